using Llama4Cluster.Kernels.Cpu;
using Llama4Cluster.Kernels.Model;
using TorchSharp;

namespace Llama4Cluster.Kernels.Tests.Cpu;

/// <summary>
/// The one-pass bf16 RMS norm and RoPE against their libtorch forms (the fp32 path of the same model code, cast as the
/// bf16 path casts): RoPE bit for bit on strided views, the norm within one bf16 rounding where libtorch's summation
/// order moves the mean; and a row's result the same alone as in any batch.
/// </summary>
public sealed class Bf16RowKernelsTests
{
    private static torch.Tensor RandomBf16(Random rng, params long[] shape)
    {
        long n = shape.Aggregate(1L, (a, b) => a * b);
        var values = Enumerable.Range(0, (int)n).Select(_ => (float)((rng.NextDouble() * 2 - 1) * 3)).ToArray();
        return torch.tensor(values, shape).to_type(torch.ScalarType.BFloat16);
    }

    private static ushort[] Bits(torch.Tensor bf16)
    {
        // bf16 → fp32 is exact: the fp32 value's high half is the bf16 pattern.
        using var f = bf16.to_type(torch.ScalarType.Float32).contiguous();
        return f.data<float>().ToArray().Select(v => (ushort)(BitConverter.SingleToUInt32Bits(v) >> 16)).ToArray();
    }

    [Theory]
    [InlineData(1, 16, 128)]
    [InlineData(7, 8, 128)]
    [InlineData(3, 2, 6)]
    [InlineData(2, 3, 12)] // 4 pairs vectorized, 2 left over
    public void RopeMatchesTheLibtorchFormBitForBitOnAStridedView(int t, int heads, int hd)
    {
        var rng = new Random(t * 100 + heads);
        // q as the attention layer sees it: a narrow of the fused qkv rows, so rows are wider than heads·hd.
        using var qkv = RandomBf16(rng, t, (heads + 3) * hd);
        using var x = qkv.narrow(1, hd, heads * hd).reshape(t, heads, hd);
        using var rope = new RotaryEmbedding(hd, 500000, null, torch.CPU);
        using var positions = torch.tensor(Enumerable.Range(0, t).Select(i => (long)(i * 977 + 5)).ToArray());
        var (cos, sin) = rope.CosSin(positions);
        using (cos)
        using (sin)
        {
            if (t > 1) Assert.False(x.is_contiguous()); // one row of a narrow is contiguous anyway
            using var fused = Bf16RowKernels.Rope(x, cos, sin);
            Assert.NotNull(fused);
            // The fp32 path is libtorch's ops; the bf16 path differs from it only by the casts around it.
            using var x32 = x.to_type(torch.ScalarType.Float32);
            using var viaTorch32 = RotaryEmbedding.Apply(x32, cos, sin);
            using var viaTorch = viaTorch32.to_type(torch.ScalarType.BFloat16);
            Assert.Equal(Bits(viaTorch), Bits(fused!));
            Assert.Equal(new long[] { t, heads, hd }, fused!.shape);
        }
    }

    [Theory]
    [InlineData(1, 2048, true)]
    [InlineData(5, 2048, true)]
    [InlineData(9, 128, false)]
    [InlineData(3, 13, true)]
    public void RmsNormIsWithinOneBf16RoundingOfTheLibtorchForm(int rows, int d, bool weighted)
    {
        var rng = new Random(rows * 31 + d);
        using var x = RandomBf16(rng, rows, d);
        using var w = weighted ? RandomBf16(rng, d) : null;
        using var fused = Bf16RowKernels.RmsNorm(x, w, 1e-5);
        Assert.NotNull(fused);
        using var x32 = x.to_type(torch.ScalarType.Float32);
        using var normalized32 = RmsNorm.Normalize(x32, 1e-5);
        using var normalized = normalized32.to_type(torch.ScalarType.BFloat16);
        using var viaTorch = w is null ? normalized.alias() : normalized.mul(w);
        var expected = Bits(viaTorch);
        var actual = Bits(fused!);
        int differing = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            if (expected[i] == actual[i]) continue;
            differing++;
            Assert.True(Math.Abs(expected[i] - actual[i]) == 1, $"element {i}: {actual[i]:X4} against libtorch's {expected[i]:X4}");
        }

        Assert.True(differing <= expected.Length / 50, $"{differing} of {expected.Length} elements differ by one rounding");
    }

    [Fact]
    public void ARowNormsAndRotatesTheSameAloneAsInABatch()
    {
        var rng = new Random(11);
        using var x = RandomBf16(rng, 6, 2048);
        using var w = RandomBf16(rng, 2048);
        using var batch = Bf16RowKernels.RmsNorm(x, w, 1e-5)!;
        using var q = RandomBf16(rng, 6, 4, 128);
        using var rope = new RotaryEmbedding(128, 500000, null, torch.CPU);
        using var positions = torch.tensor(new long[] { 100, 101, 102, 103, 104, 105 });
        var (cos, sin) = rope.CosSin(positions);
        using (cos)
        using (sin)
        using (var rotated = Bf16RowKernels.Rope(q, cos, sin)!)
        {
            for (int r = 0; r < 6; r++)
            {
                using var row = x.narrow(0, r, 1).contiguous();
                using var alone = Bf16RowKernels.RmsNorm(row, w, 1e-5)!;
                using var inBatch = batch.narrow(0, r, 1);
                Assert.Equal(Bits(alone), Bits(inBatch));

                using var qRow = q.narrow(0, r, 1);
                using var c = cos.narrow(0, r, 1);
                using var s = sin.narrow(0, r, 1);
                using var rotatedAlone = Bf16RowKernels.Rope(qRow, c, s)!;
                using var rotatedInBatch = rotated.narrow(0, r, 1);
                Assert.Equal(Bits(rotatedAlone), Bits(rotatedInBatch));
            }
        }
    }

    [Fact]
    public void OperandsTheKernelsDoNotTakeFallBackToLibtorch()
    {
        var rng = new Random(5);
        using var x = RandomBf16(rng, 4, 64);
        using var x32 = x.to_type(torch.ScalarType.Float32);
        using var transposed = x.t();
        using var shortWeight = RandomBf16(rng, 32);
        Assert.Null(Bf16RowKernels.RmsNorm(x32, null, 1e-5));
        Assert.Null(Bf16RowKernels.RmsNorm(transposed, null, 1e-5));
        Assert.Null(Bf16RowKernels.RmsNorm(x, shortWeight, 1e-5));
        using var q = RandomBf16(rng, 2, 2, 8);
        using var cos = torch.ones(2, 4);
        using var wrongTable = torch.ones(2, 3);
        Assert.Null(Bf16RowKernels.Rope(q, cos, wrongTable));
        using var q32 = q.to_type(torch.ScalarType.Float32);
        Assert.Null(Bf16RowKernels.Rope(q32, cos, cos));
        // The model code still answers them, through libtorch.
        using var y = RmsNorm.Normalize(transposed, 1e-5);
        Assert.Equal(transposed.shape, y.shape);
    }
}
