using System.Collections.Immutable;
using Llama4Cluster.Core.Config;

namespace Llama4Cluster.Cluster.Placement;

/// <summary>One stage's share of an estimated decode step, seconds.</summary>
/// <param name="Compute">The stage's own layers: max(weight and KV bytes read / HBM bandwidth, FLOPs / FLOP/s).</param>
/// <param name="Dispatch">Its MoE layers' dispatches: activations there and back over the link to the layer's shards.</param>
/// <param name="Experts">Its MoE layers' shard compute (the slowest shard of each layer, shards of a layer in parallel).</param>
/// <param name="HandOff">Hidden states to the next stage (0 on the last).</param>
public sealed record StageCost(int Stage, double Compute, double Dispatch, double Experts, double HandOff)
{
    public double Total => Compute + Dispatch + Experts + HandOff;
}

/// <summary>An estimated decode step of one attention rank at <see cref="Batch"/> sequences (one new token each).</summary>
public sealed record StepEstimate(int Batch, ImmutableArray<StageCost> Stages, int Ranks)
{
    public double StepSeconds => Stages.Sum(s => s.Total);

    /// <summary>Tokens per second of one rank: <see cref="Batch"/> / step.</summary>
    public double TokensPerSecondPerRank => Batch / StepSeconds;

    /// <summary>All ranks stepping at once, assumed not to slow each other (each rank's stages on devices of their own).</summary>
    public double TokensPerSecond => Ranks * TokensPerSecondPerRank;

    public double ComputeSeconds => Stages.Sum(s => s.Compute);
    public double DispatchSeconds => Stages.Sum(s => s.Dispatch);
    public double ExpertSeconds => Stages.Sum(s => s.Experts);
    public double HandOffSeconds => Stages.Sum(s => s.HandOff);
}

/// <summary>
/// A roofline estimate of one decode step of a plan (issue 11 item 6, planner side). A step of rank 0 runs its stages in
/// turn; per stage: compute = max(bytes read / HBM, FLOPs / FLOP/s) over its non-expert weights (embeddings excepted: a
/// lookup reads B rows) and the KV its B sequences read at <c>context</c> tokens; per MoE layer a dispatch, B·k rows (plus B
/// for the shared-expert shard) of D activations in the wire dtype there and back, = 2·rows·D·wire / bandwidth + 2·latency
/// over the slowest link from the stage's silo to the layer's shards, and the busiest shard's compute (balanced routing:
/// B·k/S rows, reading min(its experts, ⌈B·k/S⌉) experts whole; the shared-expert shard B rows and its one expert; FLOPs
/// 2·3·D·F per row); per stage boundary
/// a hand-off, B·D·wire / bandwidth + 2·latency (the answer travels back). Everything is at vendor peak, one rank at a time,
/// no overlap of transfers with compute: a model to compare plans and links, not a promise.
/// </summary>
public static class StepCostModel
{
    /// <summary>Activations on the wire: bf16.</summary>
    public const int WireBytes = 2;

    public static StepEstimate Estimate(Llama4TextConfig config, PlacementPlan plan, GpuSpec gpu, Interconnect links, int batch, int contextTokens)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(plan);
        ArgumentNullException.ThrowIfNull(gpu);
        ArgumentNullException.ThrowIfNull(links);
        ArgumentOutOfRangeException.ThrowIfLessThan(batch, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(contextTokens);
        var rank = plan.AttentionRanks[0];
        var footprint = RankFootprint.For(config, 0, contextTokens, plan.SharedExperts);
        double d = config.HiddenSize;
        double expertFlops = plan.DType == WeightDType.Fp8 ? gpu.Fp8FlopsPerSecond : gpu.Bf16FlopsPerSecond;
        var stages = ImmutableArray.CreateBuilder<StageCost>(rank.Stages.Length);
        foreach (var stage in rank.Stages)
        {
            double bytes = 0, flops = 0, dispatch = 0, experts = 0;
            for (int l = stage.FirstLayer; l < stage.FirstLayer + stage.LayerCount; l++)
            {
                bytes += footprint.LayerWeightBytes[l];
                flops += batch * (double)footprint.LayerWeightBytes[l]; // 2 FLOPs per weight (bf16: 2 bytes) per token
                double tokens = config.AttentionChunkSize is { } c && config.IsRopeLayer(l) ? Math.Min(contextTokens, c) : contextTokens;
                bytes += batch * tokens * plan.Footprint.KvBytesPerTokenPerLayer;
                flops += batch * 4.0 * config.NumAttentionHeads * config.HeadDim * tokens; // QKᵀ and PV
                if (!config.IsMoeLayer(l)) continue;
                var (layerDispatch, layerExperts) = MoeLayer(config, plan, gpu, links, stage.Silo, l, batch, expertFlops);
                dispatch += layerDispatch;
                experts += layerExperts;
            }
            if (stage.FirstLayer + stage.LayerCount == config.NumHiddenLayers)
            {
                bytes += footprint.HeadBytes;
                flops += batch * (double)footprint.HeadBytes;
            }
            double compute = Math.Max(bytes / gpu.HbmBytesPerSecond, flops / gpu.Bf16FlopsPerSecond);
            var next = rank.FindStage(stage.Stage + 1);
            double handOff = next is null ? 0 : Exchange(links.Between(stage.Silo, next.Silo), batch * d * WireBytes);
            stages.Add(new StageCost(stage.Stage, compute, dispatch, experts, handOff));
        }
        return new StepEstimate(batch, stages.MoveToImmutable(), plan.AttentionRanks.Length);
    }

    /// <summary>One MoE layer from a stage on <paramref name="silo"/>: (dispatch, slowest shard) seconds.</summary>
    private static (double Dispatch, double Experts) MoeLayer(Llama4TextConfig config, PlacementPlan plan, GpuSpec gpu, Interconnect links, string silo,
        int layer, int batch, double expertFlops)
    {
        var shards = plan.ExpertShards.Where(s => s.Layer == layer && s.Replica == 0).ToList();
        if (shards.Count == 0) return (0, 0);
        int k = config.NumExpertsPerToken;
        double rows = (double)batch * k + (plan.SharedExperts == SharedExpertPlacement.Shards ? batch : 0);
        var link = shards.Select(s => links.Between(silo, s.Silo)).MinBy(l => l.BytesPerSecond)!;
        double dispatch = Exchange(link, 2 * rows * config.HiddenSize * WireBytes);
        double rowFlops = 2.0 * config.ExpertParameters;
        int routedShards = shards.Count(s => !plan.IsSharedExpertShard(s));
        // The busiest routed shard under balanced routing: its share of the B·k rows, reading each expert they hit whole
        // (at least one expert once any row arrives).
        double busiestRows = (double)batch * k / routedShards;
        double slowest = 0;
        foreach (var shard in shards)
        {
            bool shared = plan.IsSharedExpertShard(shard);
            double shardRows = shared ? batch : busiestRows;
            double experts = shared ? 1 : Math.Min(shard.Experts.Length, Math.Ceiling(busiestRows));
            double shardBytes = shared ? shard.Bytes : experts * plan.Footprint.ExpertBytes;
            double flopRate = shared ? gpu.Bf16FlopsPerSecond : expertFlops;
            slowest = Math.Max(slowest, Math.Max(shardBytes / gpu.HbmBytesPerSecond, shardRows * rowFlops / flopRate));
        }
        return (dispatch, slowest);
    }

    /// <summary>A request of <paramref name="bytes"/> and its small answer: bytes / bandwidth + two latencies.</summary>
    private static double Exchange(LinkSpec link, double bytes) => bytes / link.BytesPerSecond + 2 * link.LatencySeconds;
}
