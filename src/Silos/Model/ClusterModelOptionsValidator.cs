using Llama4Cluster.Contracts.Tensors;
using Llama4Cluster.Kernels.Runtime;
using Llama4Cluster.Core.Config;
using Llama4Cluster.Cluster.Placement;
using Llama4Cluster.Silos.Placement;
using Microsoft.Extensions.Options;

namespace Llama4Cluster.Silos.Model;

/// <summary>Checks <see cref="ClusterModelOptions"/> at startup; each message says how to fix the setting.</summary>
public sealed class ClusterModelOptionsValidator : IValidateOptions<ClusterModelOptions>
{
    public ValidateOptionsResult Validate(string? name, ClusterModelOptions options)
    {
        var errors = new List<string>();
        if (string.IsNullOrWhiteSpace(options.ModelDirectory))
            errors.Add("Llama4:ModelDirectory is empty: set it (or --model DIR) to a Hugging Face checkpoint directory.");
        else if (!Directory.Exists(options.ModelDirectory))
            errors.Add($"Llama4:ModelDirectory '{options.ModelDirectory}' does not exist: every silo needs the checkpoint at that path.");
        Try(() => ComputeDType.ParseSetting(options.DType), "Llama4:DType", errors);
        if (!string.IsNullOrWhiteSpace(options.WireDType)) Try(() => WireDTypes.Parse(options.WireDType), "Llama4:WireDType", errors);
        if (options.BatchInvariant && options.Device.StartsWith("cuda", StringComparison.OrdinalIgnoreCase))
            errors.Add($"Llama4:BatchInvariant (--batch-invariant) is a CPU bf16 mode; on {options.Device} the kernels are libtorch's: leave it off there.");
        if (options.Role is not ("expert" or "attention" or "all"))
            errors.Add($"Llama4:Role is '{options.Role}': use expert, attention or all.");
        if (!Enum.IsDefined(options.DataPlane))
            errors.Add($"Llama4:DataPlane is '{options.DataPlane}': use tcp (socket data plane) or orleans (grain calls).");
        if (options.DataPlanePort is < 0 or > 65535)
            errors.Add($"Llama4:DataPlanePort is {options.DataPlanePort}: use 0 (any free port) or a TCP port.");
        if (options.ExpertReplicas is < 1 or > 16)
            errors.Add($"Llama4:ExpertReplicas (--expert-replicas) is {options.ExpertReplicas}: set it between 1 and 16.");
        if (options.RebalanceInterval < TimeSpan.FromMilliseconds(100))
            errors.Add($"Llama4:RebalanceInterval is {options.RebalanceInterval}: set it to at least 100 ms.");
        if (options.PrefixCacheBlockSize < 1)
            errors.Add($"Llama4:PrefixCacheBlockSize is {options.PrefixCacheBlockSize}: set it to at least 1 token (16 by default).");
        if (options.PrefixCacheMiB < 0)
            errors.Add($"Llama4:PrefixCacheMiB is {options.PrefixCacheMiB}: set it to 0 or more MiB (or Llama4:PrefixCache=false to turn the cache off).");
        if (options.SequenceLease < TimeSpan.FromSeconds(1))
            errors.Add($"Llama4:SequenceLease is {options.SequenceLease}: set it to at least a second (minutes in production).");
        if (options.ReplicaTimeout <= TimeSpan.Zero)
            errors.Add($"Llama4:ReplicaTimeout is {options.ReplicaTimeout}: set it to a positive time.");
        if (options.ShardsPerLayer < 1)
            errors.Add($"Llama4:ShardsPerLayer is {options.ShardsPerLayer}: set it to at least 1 (and at most the experts per layer).");
        if (options.Stages < 1)
            errors.Add($"Llama4:Stages is {options.Stages}: set it to at least 1 (1: each rank holds every layer; K: each rank is split into K pipeline stages).");
        if (options.AttentionRanks < 1)
            errors.Add($"Llama4:AttentionRanks is {options.AttentionRanks}: set it to at least 1.");
        if (options.ShardTimeout <= TimeSpan.Zero)
            errors.Add($"Llama4:ShardTimeout is {options.ShardTimeout}: set a positive bound such as 00:00:30.");
        if (options.MaxMessageBytes < 1 << 20)
            errors.Add($"Llama4:MaxMessageBytes is {options.MaxMessageBytes}: set at least 1 MiB (1048576).");
        if (options.MessageBudgetFraction is <= 0 or > 0.9)
            errors.Add($"Llama4:MessageBudgetFraction is {options.MessageBudgetFraction}: use a value in (0, 0.9], e.g. 0.25.");
        if (options.ComputeThreads < 1)
            errors.Add($"Llama4:ComputeThreads is {options.ComputeThreads}: set at least 1.");
        if (options.TorchThreads is < 1)
            errors.Add($"Llama4:TorchThreads is {options.TorchThreads}: leave it unset or set at least 1.");
        if (!string.IsNullOrWhiteSpace(options.PlacementPlanFile))
            CheckPlan(options, errors);
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }

    /// <summary>Loads the plan file as the silo will and checks it against the checkpoint and this silo's name and role.</summary>
    private static void CheckPlan(ClusterModelOptions options, List<string> errors)
    {
        Llama4TextConfig? config = null;
        if (!string.IsNullOrWhiteSpace(options.ModelDirectory) && Directory.Exists(options.ModelDirectory))
        {
            try
            {
                config = Llama4ConfigReader.Load(options.ModelDirectory);
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                errors.Add($"Llama4:ModelDirectory '{options.ModelDirectory}': cannot read config.json: {e.Message}");
                return;
            }
        }
        PlacementPlan plan;
        try
        {
            plan = PlacementPlanJson.Load(options.PlacementPlanFile, config);
        }
        catch (PlacementPlanFileException e)
        {
            errors.Add($"Llama4:PlacementPlanFile: {e.Message}");
            return;
        }
        if (plan.StagesPerRank > 1 && options.Stages != plan.StagesPerRank)
            errors.Add($"Llama4:Stages is {options.Stages} but the placement plan '{options.PlacementPlanFile}' splits each rank into {plan.StagesPerRank} stages: " +
                "leave --stages out (the plan's count is used) or re-plan with llama4 plan ... --stages K --out FILE.");
        if (options.SharedExperts == SharedExpertPlacement.Shards && plan.SharedExperts != SharedExpertPlacement.Shards)
            errors.Add($"Llama4:SharedExperts is shards but the placement plan '{options.PlacementPlanFile}' keeps the shared experts on the attention ranks " +
                "(it places no shared-expert shards): leave --shared-experts out or re-plan with llama4 plan ... --shared-experts shards --out FILE.");
        if (string.IsNullOrWhiteSpace(options.SiloName)) return;
        var mine = plan.Inventory.Find(options.SiloName);
        if (mine is null)
            errors.Add($"Llama4:SiloName '{options.SiloName}' is not a silo of the placement plan '{options.PlacementPlanFile}' " +
                $"(it has {string.Join(", ", plan.Inventory.Silos.Select(s => s.Name))}): start the silo with one of those --name values.");
        else if (mine.Role.ToText() != options.Role)
            errors.Add($"Llama4:Role is '{options.Role}' but the placement plan '{options.PlacementPlanFile}' gives silo '{mine.Name}' role {mine.Role.ToText()}: start it with --role {mine.Role.ToText()}.");
    }

    private static void Try(Action parse, string setting, List<string> errors)
    {
        try
        {
            parse();
        }
        catch (ArgumentException e)
        {
            errors.Add($"{setting}: {e.Message}");
        }
    }
}
