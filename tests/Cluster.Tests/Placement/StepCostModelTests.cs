using System.Collections.Immutable;
using Llama4Cluster.Cluster.Placement;
using Llama4Cluster.Core.Config;

namespace Llama4Cluster.Cluster.Tests.Placement;

/// <summary>The step cost model against a case computed by hand, and its sanity: faster links or memory never slow a step.</summary>
public sealed class StepCostModelTests
{
    // Round numbers so the hand computation below stays readable: 1 GB/s HBM, 1 GFLOP/s, links of 100 MB/s and 10 MB/s.
    private static readonly GpuSpec Gpu = new("test", 1e9, 1e9, 2e9, 1e8, 1e8, "made up for the test");
    private static readonly Interconnect Links = new("test", new LinkSpec("intra", 1e8, 1e-6), new LinkSpec("inter", 1e7, 1e-5));

    /// <summary>tiny-scout, shared experts on the rank, one attention silo (<paramref name="stages"/> devices) and one expert silo (1 shard per layer).</summary>
    private static PlacementPlan TinyPlan(int stages)
    {
        var attention = ImmutableArray.CreateRange(Enumerable.Range(0, stages).Select(i => new DeviceInventory($"cuda:{i}", ByteSize.GB)));
        var inventory = new ClusterInventory([new SiloInventory("attn", null, SiloRole.Attention, attention),
            new SiloInventory("exp", null, SiloRole.Expert, [new DeviceInventory("cuda:0", ByteSize.GB)])]);
        return PlacementPlanner.Plan(Llama4Presets.TinyScout, WeightDType.Bf16, inventory,
            new PlacementOptions { Stages = stages, SharedExperts = SharedExpertPlacement.Rank, KvBytesPerRank = 0 }).Plan!;
    }

    [Fact]
    public void HandComputedCase()
    {
        // tiny-scout: D 64, 4 heads / 2 KV heads of 16, 16 experts top-1 of width 32, vocab 512, chunk 4, layer 3 NoPE.
        // Per layer weights: attention 2·64·4·16 + 2·64·2·16 + 2·64 = 12416, router 16·64 + shared 3·64·32 = 7168 → 39168 B.
        // Batch 2 at context 8: KV read 2 × (3 layers × 4 + 1 layer × 8 tokens) × 128 B = 5120 B; head (512·64 + 64)·2 = 65664 B.
        // FLOPs: 2 × (4 × 39168 + 65664) (2 per bf16 weight = 1 per byte, per token) + 2 × 4·4·16 × 20 (attention) = 454912,
        // so compute = max(227456 B / 1e9, 454912 / 1e9) = 454.912 µs.
        // Dispatch per MoE layer to the other silo: 2 × 2 rows × 64 × 2 B / 1e7 + 2 × 10 µs = 71.2 µs; × 4 = 284.8 µs.
        // The one shard: 2 rows hit at most 2 experts of 12288 B: max(24576 B / 1e9, 2 × 2·6144 / 1e9) = 24.576 µs; × 4 = 98.304 µs.
        var estimate = StepCostModel.Estimate(Llama4Presets.TinyScout, TinyPlan(1), Gpu, Links, batch: 2, contextTokens: 8);

        var stage = Assert.Single(estimate.Stages);
        Assert.Equal(454.912e-6, stage.Compute, 1e-12);
        Assert.Equal(284.8e-6, stage.Dispatch, 1e-12);
        Assert.Equal(98.304e-6, stage.Experts, 1e-12);
        Assert.Equal(0, stage.HandOff);
        Assert.Equal(838.016e-6, estimate.StepSeconds, 1e-12);
        Assert.Equal(2 / 838.016e-6, estimate.TokensPerSecondPerRank, 1e-6);

        // Two stages on two devices of one silo: the same work plus one hand-off over the host's link,
        // 2 × 64 × 2 B / 1e8 + 2 × 1 µs = 4.56 µs.
        var staged = StepCostModel.Estimate(Llama4Presets.TinyScout, TinyPlan(2), Gpu, Links, batch: 2, contextTokens: 8);
        Assert.Equal(2, staged.Stages.Length);
        Assert.Equal(4.56e-6, staged.HandOffSeconds, 1e-12);
        Assert.Equal(838.016e-6 + 4.56e-6, staged.StepSeconds, 1e-12);
    }

    [Fact]
    public void MoreBandwidthNeverSlowsTheStep()
    {
        var behemoth = Llama4Presets.Get("behemoth");
        var plan = PlacementPlanner.Plan(behemoth, WeightDType.Fp8, ClusterInventory.Uniform(8, 8, 80 * ByteSize.GB)).Plan!;
        foreach (int batch in new[] { 1, 8, 64 })
        {
            double previous = double.MaxValue;
            foreach (double gbps in new[] { 10.0, 100, 400, 1600 })
            {
                double step = StepCostModel.Estimate(behemoth, plan, GpuSpec.H100, Interconnect.Get("nvlink+ib", GpuSpec.H100, gbps), batch, 8192).StepSeconds;
                Assert.True(step <= previous, $"batch {batch}: {gbps} Gb/s gives {step} s, slower than {previous} s");
                previous = step;
            }
            double h100 = StepCostModel.Estimate(behemoth, plan, GpuSpec.H100, Interconnect.Get("nvlink+ib", GpuSpec.H100), batch, 8192).StepSeconds;
            double h200 = StepCostModel.Estimate(behemoth, plan, GpuSpec.H200, Interconnect.Get("nvlink+ib", GpuSpec.H200), batch, 8192).StepSeconds;
            Assert.True(h200 < h100, "more HBM bandwidth must shorten a memory-bound decode step");
        }
        var one = StepCostModel.Estimate(behemoth, plan, GpuSpec.H100, Interconnect.Get("nvlink+ib", GpuSpec.H100), 1, 8192);
        var many = StepCostModel.Estimate(behemoth, plan, GpuSpec.H100, Interconnect.Get("nvlink+ib", GpuSpec.H100), 64, 8192);
        Assert.True(many.StepSeconds >= one.StepSeconds);
        Assert.True(many.TokensPerSecond > one.TokensPerSecond, "batching must raise throughput");
    }

    [Fact]
    public void UnknownGpuOrInterconnect_SaysWhatIsKnown()
    {
        Assert.Contains("h100, h100-pcie, h200, a100", Assert.Throws<ArgumentException>(() => GpuSpec.Get("h900")).Message);
        Assert.Contains("nvlink+ib", Assert.Throws<ArgumentException>(() => Interconnect.Get("smoke", GpuSpec.H100)).Message);
        Assert.Equal(50e9, Interconnect.Get("nvlink+ib", GpuSpec.H100, 400).InterHost.BytesPerSecond);
    }
}
