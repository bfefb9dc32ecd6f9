using Llama4Cluster.Cluster.Placement;
using Llama4Cluster.Contracts.Experts;
using Llama4Cluster.Kernels.Checkpoints;
using Llama4Cluster.Kernels.Engine;
using Llama4Cluster.Kernels.Model;
using Llama4Cluster.Kernels.Model.Moe;
using Llama4Cluster.Silos.Model;

namespace Llama4Cluster.Silos.Experts;

/// <summary>
/// Loads the shard that runs a MoE layer's shared expert (<c>--shared-experts shards</c>): only that layer's three
/// shared-expert tensors, through the loader the rank uses (<see cref="SharedExpertWeights"/>) and with the kernels the rank
/// would pick, so the shard computes exactly what the rank would have.
/// </summary>
public static class SharedExpertShard
{
    /// <summary>Synchronous (run it on the compute threads). A checkpoint without the layer's shared expert fails with a
    /// message that names the missing tensors and the way out.</summary>
    public static (SwiGluMlp Shared, ExpertShardInfo Info) Load(SiloModelContext context, ExpertShardKey key, string silo)
    {
        ArgumentNullException.ThrowIfNull(context);
        string directory = context.Options.ModelDirectory;
        using var reader = CheckpointReader.Open(directory);
        var missing = SharedExpertWeights.Names(key.Layer).Where(n => !reader.Contains(n)).ToArray();
        if (missing.Length > 0)
            throw new InvalidOperationException($"shared-expert shard {key}: the checkpoint in {directory} has no shared expert for MoE layer {key.Layer} " +
                $"(missing {string.Join(", ", missing)}); --shared-experts shards needs one in every MoE layer (every Llama 4 checkpoint has them: " +
                "check the checkpoint, or run the silos with --shared-experts rank)");
        long before = reader.BytesRead;
        var device = context.DeviceFor(PlacementKey.ForExpertShard(key.Layer, key.Shard, key.Replica));
        var shared = SharedExpertWeights.Load(new CheckpointWeightSource(reader), key.Layer, context.ComputeDType, device, context.KernelsFor(device));
        long read = reader.BytesRead - before;
        var info = new ExpertShardInfo(key.Layer, key.Shard, [ExpertShardRequest.SharedExpert], read, read, shared.WeightBytes, silo, device.ToString());
        return (shared, info);
    }
}
