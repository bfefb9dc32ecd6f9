using System.Globalization;
using Llama4Cluster.Cli.Ui;
using Llama4Cluster.Cluster.Placement;
using Llama4Cluster.Core.Config;

namespace Llama4Cluster.Cli.Commands;

/// <summary>The parts of <c>llama4 plan</c>'s report about pipeline stages, the binding constraint and the step cost estimate.</summary>
internal static class PlanReport
{
    /// <summary>The cost model's inputs from <c>--gpu</c>, <c>--interconnect</c>, <c>--link-gbps</c>, <c>--link-latency-us</c>
    /// (or <c>--measured FILE</c>: the link between hosts from <c>bench cluster --json</c>, <see cref="MeasuredLink"/>) and
    /// <c>--batch</c>.</summary>
    public sealed record Cost(GpuSpec Gpu, Interconnect Links, int[] Batches);

    public static Cost CostInputs(Arguments a)
    {
        try
        {
            var gpu = GpuSpec.Get(a.Optional("gpu") ?? "h100");
            double? gbps = a.Double("link-gbps", 0.001, 1e6), latency = a.Double("link-latency-us", 0, 1e6);
            var links = Interconnect.Get(a.Optional("interconnect") ?? "nvlink+ib", gpu, gbps, latency);
            if (a.Optional("measured") is { } measured)
            {
                if (gbps is not null || latency is not null)
                    throw new UsageException("give either --measured FILE or --link-gbps / --link-latency-us, not both");
                links = links with { InterHost = MeasuredLink.Load(measured).ToLink(measured) };
            }
            int[] batches = a.IntList("batch") ?? [1, 32];
            if (batches.Any(b => b < 1)) throw new UsageException("--batch values must be at least 1");
            return new Cost(gpu, links, batches);
        }
        catch (ArgumentException e)
        {
            throw new UsageException(e.Message);
        }
    }

    /// <summary><c>bfloat16</c> or <c>fp8</c>: the spelling of the other commands.</summary>
    public static string DTypeName(WeightDType dtype) => dtype == WeightDType.Bf16 ? "bfloat16" : "fp8";

    public static string Describe(PlacementConstraint constraint) => constraint switch
    {
        PlacementConstraint.Roles => "silo roles (no silo can hold attention ranks or experts)",
        PlacementConstraint.TotalMemory => "total memory (weights + KV exceed every device's usable memory together)",
        PlacementConstraint.StageDevice => "one device per stage (a pipeline stage exceeds the largest attention-capable device)",
        PlacementConstraint.AttentionDevices => "attention devices (the ranks' stages find no room on the attention-capable devices)",
        PlacementConstraint.ExpertDevices => "expert devices (the shards exceed what the expert devices have left after the attention stages)",
        _ => constraint.ToString(),
    };

    public static void PrintStages(PlacementPlan plan)
    {
        Terminal.Table(plan.StagesPerRank == 1 ? "attention ranks (one stage each)" : $"attention ranks × {plan.StagesPerRank} pipeline stages (one device each)",
            ["rank", "stage", "silo", "device", "layers", "weights GB", "KV GB"],
            plan.AttentionRanks.SelectMany(r => r.Stages.Select(s => (IReadOnlyList<string>)
            [
                Inv($"{r.Rank}"), Inv($"{s.Stage}"), s.Silo, s.Device, s.Layers.ToString(), ByteSize.FormatGb(s.WeightBytes), ByteSize.FormatGb(s.KvBytes),
            ])));
        Console.WriteLine(plan.SharedExperts == SharedExpertPlacement.Shards
            ? "shared experts: as expert shards (one more shard per MoE layer, every token routed to it); the stages hold attention, norms, routers and dense MLPs"
            : "shared experts: with the rank (each stage holds its MoE layers' shared experts)");
    }

    /// <summary>The estimated decode step at each batch size (<see cref="StepCostModel"/>).</summary>
    public static void PrintCost(Llama4TextConfig config, PlacementPlan plan, Cost cost, int contextTokens)
    {
        var estimates = cost.Batches.Select(b => StepCostModel.Estimate(config, plan, cost.Gpu, cost.Links, b, contextTokens)).ToList();
        Terminal.Table(Inv($"estimated decode step of one rank ({cost.Gpu.Name}, {cost.Links.IntraHost.Name} in a host, {cost.Links.InterHost.Name} between hosts, context {contextTokens}; roofline at datasheet peaks)"),
            ["batch", "step ms", "stage compute", "dispatch", "expert shards", "hand-offs", "tokens/s per rank", Inv($"tokens/s × {plan.AttentionRanks.Length} rank(s)")],
            estimates.Select(e => (IReadOnlyList<string>)
            [
                Inv($"{e.Batch}"), Ms(e.StepSeconds), Ms(e.ComputeSeconds), Ms(e.DispatchSeconds), Ms(e.ExpertSeconds), Ms(e.HandOffSeconds),
                Inv($"{e.TokensPerSecondPerRank:F0}"), Inv($"{e.TokensPerSecond:F0}"),
            ]));
        Console.WriteLine("cost model: per stage max(bytes read / HBM, FLOPs / FLOP/s) + per MoE layer dispatch (2·rows·D·2 B / link + 2·latency) and the slowest shard + per boundary hand-off; no overlap. See docs/DESIGN.md \"Plans and the cost model\".");
    }

    private static string Ms(double seconds) => Inv($"{seconds * 1e3:F2}");

    private static string Inv(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
