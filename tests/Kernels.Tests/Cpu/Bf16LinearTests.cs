using Llama4Cluster.Kernels.Cpu;
using TorchSharp;

namespace Llama4Cluster.Kernels.Tests.Cpu;

/// <summary>The TorchSharp glue equals <c>torch.nn.functional.linear</c> and falls back where it must.</summary>
[Collection(CpuKernelCollection.Name)]
public sealed class Bf16LinearTests
{
    [Theory]
    [InlineData(1, 64, 48)]
    [InlineData(5, 100, 33)]
    [InlineData(32, 256, 130)]
    public void Fp32InputMatchesTorchLinearInFloat64(int batch, int inF, int outF)
    {
        using var scope = torch.NewDisposeScope();
        torch.manual_seed(batch + inF);
        var x = torch.randn(batch, inF, dtype: torch.float32);
        var w = torch.randn(outF, inF, dtype: torch.float32).to(torch.bfloat16);
        Assert.True(Bf16Linear.CanUseKernel(x, w));
        var y = Bf16Linear.Linear(x, w);
        Assert.Equal(torch.float32, y.dtype);
        var expected = torch.nn.functional.linear(x.to(torch.float64), w.to(torch.float64));
        Assert.True(y.to(torch.float64).allclose(expected, rtol: 1e-4, atol: 1e-4));
    }

    [Fact]
    public void Bf16InputAndLeadingDimsKeepDtypeAndShape()
    {
        using var scope = torch.NewDisposeScope();
        torch.manual_seed(3);
        var x = torch.randn(2, 3, 96, dtype: torch.float32).to(torch.bfloat16);
        var w = torch.randn(40, 96, dtype: torch.float32).to(torch.bfloat16);
        var y = Bf16Linear.Linear(x, w);
        Assert.Equal(torch.bfloat16, y.dtype);
        Assert.Equal(new long[] { 2, 3, 40 }, y.shape);
        var expected = torch.nn.functional.linear(x.to(torch.float32), w.to(torch.float32));
        Assert.True(y.to(torch.float32).allclose(expected, rtol: 2e-2, atol: 2e-2));
    }

    [Theory]
    [InlineData(1, 2048, 1024)]
    [InlineData(3, 37, 21)]
    public void Bf16InputIsWidenedAndRoundedAsLibtorchCastsIt(int batch, int inF, int outF)
    {
        // bf16 activations are staged in C# (widened, then the fp32 result rounded to nearest even): the same bits as the
        // fp32 kernel call with libtorch's casts around it.
        using var scope = torch.NewDisposeScope();
        torch.manual_seed(batch + inF);
        var x = torch.randn(batch, inF, dtype: torch.float32).to(torch.bfloat16);
        var w = torch.randn(outF, inF, dtype: torch.float32).to(torch.bfloat16);
        var staged = Bf16Linear.Linear(x, w).to(torch.float32);
        var viaCasts = Bf16Linear.Linear(x.to(torch.float32), w).to(torch.bfloat16).to(torch.float32);
        Assert.Equal(viaCasts.data<float>().ToArray(), staged.data<float>().ToArray());
    }

    [Fact]
    public void NonContiguousInputAndSlicedWeightAreHandled()
    {
        using var scope = torch.NewDisposeScope();
        torch.manual_seed(4);
        var x = torch.randn(64, 4, dtype: torch.float32).t(); // [4, 64], not contiguous
        var big = torch.randn(50, 64, dtype: torch.float32).to(torch.bfloat16);
        var w = big[torch.TensorIndex.Slice(10, 30)]; // contiguous rows at a storage offset
        Assert.True(w.is_contiguous());
        var y = Bf16Linear.Linear(x, w);
        var expected = torch.nn.functional.linear(x.to(torch.float64), w.to(torch.float64));
        Assert.True(y.to(torch.float64).allclose(expected, rtol: 1e-4, atol: 1e-4));
    }

    [Fact]
    public void LargeBatchNonBf16OrTransposedWeightFallBack()
    {
        using var scope = torch.NewDisposeScope();
        torch.manual_seed(5);
        var wb = torch.randn(24, 40, dtype: torch.float32).to(torch.bfloat16);
        var big = torch.randn(Bf16MatMul.MaxDecodeBatch + 1, 40, dtype: torch.float32);
        Assert.False(Bf16Linear.CanUseKernel(big, wb));
        var y = Bf16Linear.Linear(big, wb);
        Assert.Equal(torch.float32, y.dtype);
        var expected = torch.nn.functional.linear(big.to(torch.bfloat16), wb).to(torch.float32);
        Assert.True(y.allclose(expected));

        var wf = torch.randn(24, 40, dtype: torch.float32);
        var x = torch.randn(2, 40, dtype: torch.float32);
        Assert.False(Bf16Linear.CanUseKernel(x, wf));
        Assert.True(Bf16Linear.Linear(x, wf).allclose(torch.nn.functional.linear(x, wf)));

        var wt = torch.randn(40, 24, dtype: torch.float32).to(torch.bfloat16).t();
        Assert.False(Bf16Linear.CanUseKernel(x, wt));
        Assert.Equal(new long[] { 2, 24 }, Bf16Linear.Linear(x, wt).shape);
    }

    [Fact]
    public void GradientRequestsFallBack()
    {
        using var scope = torch.NewDisposeScope();
        var w = torch.randn(8, 16, dtype: torch.float32).to(torch.bfloat16);
        var x = torch.randn(1, 16, dtype: torch.float32, requires_grad: true);
        Assert.False(Bf16Linear.CanUseKernel(x, w));
        using (torch.no_grad())
        {
            Assert.True(Bf16Linear.CanUseKernel(x, w));
        }
    }
}
