using Llama4Cluster.Kernels.Model;
using TorchSharp;

namespace Llama4Cluster.Kernels.Tests.Model;

/// <summary>The kernel choice is made once, from where and how the weights are held; only shapes are looked at per call.</summary>
public sealed class KernelPolicyTests
{
    [Fact]
    public void TheModelsPlacementDecidesTheKernels()
    {
        Assert.Same(KernelPolicy.CpuBf16, KernelPolicy.For(new ModelOptions { ComputeDType = torch.ScalarType.BFloat16 }));
        Assert.Same(KernelPolicy.Cpu, KernelPolicy.For(new ModelOptions()));
        Assert.Same(KernelPolicy.Torch, KernelPolicy.For(new ModelOptions { Device = torch.META }));
        Assert.Same(KernelPolicy.Torch, KernelPolicy.For(new ModelOptions { Device = torch.META, ComputeDType = torch.ScalarType.BFloat16 }));

        using var bf16 = torch.zeros(8, 4, dtype: torch.ScalarType.BFloat16);
        using var strided = torch.zeros(4, 8, dtype: torch.ScalarType.BFloat16).t();
        using var fp32 = torch.zeros(8, 4);
        Assert.Same(KernelPolicy.CpuBf16, KernelPolicy.For(bf16));
        Assert.Same(KernelPolicy.Cpu, KernelPolicy.For(strided)); // the kernel reads rows in place: contiguous only
        Assert.Same(KernelPolicy.Cpu, KernelPolicy.For(fp32));
    }

    [Fact]
    public void BatchInvarianceIsACpuBf16PolicyAndIsRefusedElsewhere()
    {
        var invariant = KernelPolicy.For(new ModelOptions { ComputeDType = torch.ScalarType.BFloat16, BatchInvariant = true });
        Assert.Same(KernelPolicy.CpuBf16Invariant, invariant);
        Assert.True(invariant.StreamsExperts(4096)); // any row count: one summation order for a row
        Assert.Same(KernelPolicy.Cpu, KernelPolicy.For(new ModelOptions { BatchInvariant = true })); // fp32: unchanged
        var e = Assert.Throws<ArgumentException>(() =>
            KernelPolicy.For(new ModelOptions { Device = torch.META, ComputeDType = torch.ScalarType.BFloat16, BatchInvariant = true }));
        Assert.Contains("libtorch", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(1, true)]
    [InlineData(32, true)]
    [InlineData(33, false)]
    public void ExpertsStreamUpToTheDecodeBatch(int rows, bool streams)
    {
        Assert.Equal(streams, KernelPolicy.CpuBf16.StreamsExperts(rows));
        Assert.False(KernelPolicy.Cpu.StreamsExperts(rows));
    }

    [Fact]
    public void OnlyUnmaskedDecodeAttentionUsesTheKernelAndOnlyOnTheCpu()
    {
        Assert.True(KernelPolicy.Cpu.StreamsDecodeAttention(masked: false));
        Assert.False(KernelPolicy.Cpu.StreamsDecodeAttention(masked: true));
        Assert.False(KernelPolicy.Torch.StreamsDecodeAttention(masked: false));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(4)]
    [InlineData(9)]
    public void BothLinearPathsComputeTheSameProduct(int rows)
    {
        using var scope = torch.NewDisposeScope();
        var g = new torch.Generator(5);
        var w = torch.randn([24, 16], generator: g).to_type(torch.ScalarType.BFloat16);
        var x = torch.randn([rows, 16], generator: g).to_type(torch.ScalarType.BFloat16);
        var streamed = KernelPolicy.CpuBf16.Linear(x, w).to_type(torch.ScalarType.Float32);
        var reference = torch.nn.functional.linear(x.to_type(torch.ScalarType.Float32), w.to_type(torch.ScalarType.Float32));
        Assert.True(streamed.allclose(reference, rtol: 2e-2, atol: 2e-2));
        Assert.Equal(torch.ScalarType.BFloat16, KernelPolicy.CpuBf16.Linear(x, w).dtype);
    }
}
