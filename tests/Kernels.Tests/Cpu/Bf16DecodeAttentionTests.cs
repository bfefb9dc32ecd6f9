using System.Runtime.Intrinsics;
using Llama4Cluster.Kernels.Cpu;
using Llama4Cluster.Kernels.Model;
using TorchSharp;

namespace Llama4Cluster.Kernels.Tests.Cpu;

/// <summary><see cref="Bf16DecodeAttention"/> against float64 math and the libtorch path.</summary>
[Collection(CpuKernelCollection.Name)]
public sealed class Bf16DecodeAttentionTests
{
    public static TheoryData<int, int, int, int, bool> Shapes()
    {
        var data = new TheoryData<int, int, int, int, bool>();
        foreach (int m in new[] { 1, 7, 1000, 5000 })
        {
            foreach (var (h, kv) in new[] { (40, 8), (6, 2), (4, 4) })
            {
                foreach (int hd in new[] { 8, 16, 128 })
                {
                    data.Add(m, h, kv, hd, true);
                    data.Add(m, h, kv, hd, false);
                }
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void MatchesFloat64Reference(int m, int heads, int kvHeads, int hd, bool bf16)
    {
        var rng = new Random(m * 131 + heads * 17 + hd + (bf16 ? 1 : 0));
        double scale = 1 / Math.Sqrt(hd);
        // Scores spread over a few units so the softmax is neither flat nor one-hot.
        var q = Bf16Reference.RandomFloats(rng, heads * hd, 3.0);
        var expected = new double[heads * hd];
        var output = new float[heads * hd];
        int count = m * kvHeads * hd;
        if (bf16)
        {
            var k = Bf16Reference.RandomBf16(rng, count);
            var v = Bf16Reference.RandomBf16(rng, count);
            Reference(q, i => Bf16Reference.ToDouble(k[i]), i => Bf16Reference.ToDouble(v[i]), m, heads, kvHeads, hd, scale, expected);
            Bf16DecodeAttention.Attend(q, k, v, output, heads, kvHeads, hd, m, scale);
        }
        else
        {
            var k = Bf16Reference.RandomFloats(rng, count);
            var v = Bf16Reference.RandomFloats(rng, count);
            Reference(q, i => k[i], i => v[i], m, heads, kvHeads, hd, scale, expected);
            Bf16DecodeAttention.Attend(q, k, v, output, heads, kvHeads, hd, m, scale);
        }

        Bf16Reference.AssertClose(expected, output, 2e-5, $"m={m} H={heads} KV={kvHeads} hd={hd} bf16={bf16}");
    }

    [Theory]
    [InlineData(1000, 40, 8, 128, true)]
    [InlineData(300, 6, 2, 24, false)]
    [InlineData(7, 4, 4, 16, true)]
    // hd past the 32-column chunks: a 16-column chunk, a scalar rest, both; G over one 8-head tile.
    [InlineData(300, 6, 2, 48, true)]
    [InlineData(300, 6, 2, 40, true)]
    [InlineData(77, 18, 2, 56, true)]
    [InlineData(77, 18, 2, 56, false)]
    [InlineData(33, 9, 1, 96, true)]
    public void EveryInstructionSetMatchesFloat64Reference(int m, int heads, int kvHeads, int hd, bool bf16)
    {
        foreach (var isa in IsaScope.Available)
        {
            using var _ = new IsaScope(isa);
            MatchesFloat64Reference(m, heads, kvHeads, hd, bf16);
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void ThreadCountDoesNotChangeTheResult(int threads)
    {
        using var pool = new CpuWorkerPool(threads);
        var rng = new Random(11);
        int m = 777, heads = 40, kv = 8, hd = 128;
        var q = Bf16Reference.RandomFloats(rng, heads * hd, 3.0);
        var k = Bf16Reference.RandomBf16(rng, m * kv * hd);
        var v = Bf16Reference.RandomBf16(rng, m * kv * hd);
        var expected = new double[heads * hd];
        Reference(q, i => Bf16Reference.ToDouble(k[i]), i => Bf16Reference.ToDouble(v[i]), m, heads, kv, hd, 0.1, expected);
        var output = new float[heads * hd];
        Bf16DecodeAttention.Attend(q, k, v, output, heads, kv, hd, m, 0.1, pool);
        Bf16Reference.AssertClose(expected, output, 2e-5, $"{threads} threads");
    }

    [Fact]
    public void HugeScoreRangesAcrossBlocksStayFiniteAndExact()
    {
        // Key j is ramp_j · u with ramp from -1 to 1 and q = 3000·u: scores run from about -3000·|u|²
        // to +3000·|u|², so every block's max differs from the global max by hundreds or thousands
        // and exp(s - M) underflows everywhere but near the top. The blocks' merge must neither
        // overflow nor lose the winning keys.
        int m = 5000, heads = 4, kv = 2, hd = 32;
        var rng = new Random(5);
        var u = Bf16Reference.RandomFloats(rng, hd);
        var q = new float[heads * hd];
        for (int h = 0; h < heads; h++)
        {
            for (int i = 0; i < hd; i++)
            {
                q[h * hd + i] = (h % 2 == 0 ? 3000f : -3000f) * u[i];
            }
        }

        var k = new float[m * kv * hd];
        var v = Bf16Reference.RandomFloats(rng, m * kv * hd);
        for (int j = 0; j < m; j++)
        {
            float ramp = -1 + 2f * j / (m - 1);
            for (int c = 0; c < kv; c++)
            {
                for (int i = 0; i < hd; i++)
                {
                    k[(j * kv + c) * hd + i] = ramp * u[i];
                }
            }
        }

        var expected = new double[heads * hd];
        Reference(q, i => k[i], i => v[i], m, heads, kv, hd, 1.0, expected);
        var output = new float[heads * hd];
        Bf16DecodeAttention.Attend(q, k, v, output, heads, kv, hd, m, 1.0);
        Assert.All(output, x => Assert.True(float.IsFinite(x)));
        // Each head is dominated by one end of the ramp: the last key (even heads) or the first (odd).
        Assert.True(Math.Abs(expected[0] - v[((m - 1) * kv) * hd]) < 0.5);
        Bf16Reference.AssertClose(expected, output, 1e-4, "huge score range");

        // bf16 cache with the same contrast, scores far beyond exp's fp32 range.
        var kb = new ushort[k.Length];
        for (int i = 0; i < k.Length; i++)
        {
            kb[i] = (ushort)(BitConverter.SingleToInt32Bits(k[i]) >> 16);
        }

        var vb = Bf16Reference.RandomBf16(rng, v.Length);
        Reference(q, i => Bf16Reference.ToDouble(kb[i]), i => Bf16Reference.ToDouble(vb[i]), m, heads, kv, hd, 1.0, expected);
        Bf16DecodeAttention.Attend(q, kb, vb, output, heads, kv, hd, m, 1.0);
        Assert.All(output, x => Assert.True(float.IsFinite(x)));
        Bf16Reference.AssertClose(expected, output, 1e-4, "huge score range, bf16");
    }

    [Theory]
    [InlineData(1, 40, 8, 128)]
    [InlineData(1024, 40, 8, 128)]
    [InlineData(333, 6, 2, 64)]
    [InlineData(50, 4, 4, 8)]
    public void TorchGlueMatchesTheTorchPath(int m, int heads, int kvHeads, int hd)
    {
        using var scope = torch.NewDisposeScope();
        torch.manual_seed(m + heads + hd);
        double scale = 1 / Math.Sqrt(hd);
        var q = torch.randn(1, heads, hd, dtype: torch.float32);
        var k = torch.randn(m, kvHeads, hd, dtype: torch.float32);
        var v = torch.randn(m, kvHeads, hd, dtype: torch.float32);

        // fp32: the torch path is fp32 too, so the two agree closely.
        Assert.True(Bf16DecodeAttention.CanUse(q, k, v));
        var mine = Bf16DecodeAttention.Attend(q, k, v, scale);
        var torchPath = AttentionCore.AttendTorch(q, k, v, m - 1, 0, null, scale);
        Assert.Equal(torch.float32, mine.dtype);
        Assert.Equal(new long[] { 1, heads * hd }, mine.shape);
        Assert.True(mine.allclose(torchPath, rtol: 1e-4, atol: 1e-5), "fp32 glue differs from the torch path");

        // bf16 everywhere (the decode case): torch rounds probabilities to bf16, the kernel does not.
        var qb = q.to(torch.bfloat16);
        var kb = k.to(torch.bfloat16);
        var vb = v.to(torch.bfloat16);
        Assert.True(Bf16DecodeAttention.CanUse(qb, kb, vb));
        var mineB = Bf16DecodeAttention.Attend(qb, kb, vb, scale);
        var torchB = AttentionCore.AttendTorch(qb, kb, vb, m - 1, 0, null, scale);
        Assert.Equal(torch.bfloat16, mineB.dtype);
        Assert.True(mineB.to(torch.float32).allclose(torchB.to(torch.float32), rtol: 3e-2, atol: 3e-2), "bf16 glue differs from the torch path");

        // AttentionCore.Attend routes the unmasked decode token to the kernel: same result.
        var routed = AttentionCore.Attend(qb, kb, vb, m - 1, 0, null, scale, KernelPolicy.CpuBf16);
        Assert.True(routed.equal(mineB).all().item<bool>());
    }

    /// <summary>The head-major cache's views (<see cref="LayerKvCache"/>: <c>[KV, capacity, hd]</c> storage seen as
    /// <c>[m, KV, hd]</c>) give bit for bit what the same keys and values give contiguous, bf16 and fp32, and what the cache
    /// hands out is what was appended.</summary>
    [Theory]
    [InlineData(8192, 40, 8, 128)]
    [InlineData(37, 6, 2, 64)]
    public void HeadMajorViewsEqualContiguousKeys(int m, int heads, int kvHeads, int hd)
    {
        using var scope = torch.NewDisposeScope();
        torch.manual_seed(m + hd);
        foreach (var dtype in new[] { torch.bfloat16, torch.float32 })
        {
            var q = torch.randn(1, heads, hd, dtype: dtype);
            var k = torch.randn(m, kvHeads, hd, dtype: dtype);
            var v = torch.randn(m, kvHeads, hd, dtype: dtype);
            using var cache = new LayerKvCache(null, kvHeads, hd, dtype, torch.CPU);
            cache.Append(k.narrow(0, 0, m / 2), v.narrow(0, 0, m / 2));
            var (keys, values) = cache.Append(k.narrow(0, m / 2, m - m / 2), v.narrow(0, m / 2, m - m / 2));
            Assert.False(keys.is_contiguous());
            Assert.True(keys.equal(k).all().item<bool>() && values.equal(v).all().item<bool>());
            Assert.True(Bf16DecodeAttention.CanUse(q, keys, values));
            var viewed = Bf16DecodeAttention.Attend(q, keys, values, 0.125);
            var contiguous = Bf16DecodeAttention.Attend(q, k, v, 0.125);
            Assert.True(viewed.equal(contiguous).all().item<bool>(), $"{dtype}: the head-major view changed the result");
        }
    }

    [Fact]
    public void MaskedOrUnsupportedInputsKeepTheTorchPath()
    {
        using var scope = torch.NewDisposeScope();
        torch.manual_seed(9);
        var q = torch.randn(1, 4, 16, dtype: torch.float32);
        var k = torch.randn(10, 2, 16, dtype: torch.float32);
        var v = torch.randn(10, 2, 16, dtype: torch.float32);
        Assert.False(Bf16DecodeAttention.CanUse(q, k.to(torch.bfloat16), v));          // mixed cache dtypes
        Assert.False(Bf16DecodeAttention.CanUse(q, k.to(torch.float64), v.to(torch.float64)));
        Assert.False(Bf16DecodeAttention.CanUse(torch.randn(2, 4, 16), k, v));          // two query tokens
        Assert.False(Bf16DecodeAttention.CanUse(torch.randn(1, 3, 16), k, v));          // 3 heads over 2 kv heads
        var kt = torch.randn(2, 10, 16).transpose(0, 1);
        Assert.False(Bf16DecodeAttention.CanUse(q, kt, v));                              // keys and values laid out differently
        Assert.Throws<ArgumentException>(() => Bf16DecodeAttention.Attend(q, kt, v, 0.25));
        var spread = torch.randn(10, 16, 2).transpose(1, 2);                             // head-dim elements not contiguous
        Assert.False(Bf16DecodeAttention.CanUse(q, spread, spread));

        // A query that may not see the whole cache (here: in a later chunk) needs the mask.
        var masked = AttentionCore.Attend(q, k, v, q0: 12, k0: 0, chunk: 8, scale: 0.25, KernelPolicy.Cpu);
        Assert.True(masked.allclose(AttentionCore.AttendTorch(q, k, v, 12, 0, 8, 0.25)));
    }

    [Fact]
    public void NoKeysGivesZeros()
    {
        var output = new float[32];
        output.AsSpan().Fill(7);
        Bf16DecodeAttention.Attend(new float[32], ReadOnlySpan<ushort>.Empty, ReadOnlySpan<ushort>.Empty, output, 2, 1, 16, 0, 1.0);
        Assert.All(output, x => Assert.Equal(0f, x));
    }

    [Theory]
    [InlineData(1, 8, 2)]
    [InlineData(7, 8, 2)]
    [InlineData(1000, 8, 2)]
    [InlineData(8192, 8, 2)]
    [InlineData(100, 1, 2)]
    public void PlanCoversEveryKeyWithFewBlocks(int m, int kvHeads, int threads)
    {
        var (blockKeys, blocks) = Bf16DecodeAttention.Plan(m, kvHeads, threads);
        Assert.True(blockKeys % 16 == 0 && blockKeys <= Bf16DecodeAttention.MaxBlockKeys);
        Assert.True((long)blockKeys * blocks >= m && (long)blockKeys * (blocks - 1) < m);
        Assert.True(blocks * kvHeads >= Math.Min(4 * threads, (m + 15) / 16 * kvHeads));
    }

    [Fact]
    public void Fp32ExpMatchesMathExpOverItsRange()
    {
        if (!System.Runtime.Intrinsics.X86.Avx512F.IsSupported)
        {
            return;
        }

        // Dense sweep of [-110, 88.72] (exp overflows fp32 beyond) plus the edges; relative error where exp is a normal fp32,
        // absolute error (underflow to subnormal and 0) below that.
        var xs = new List<float> { 0f, -0f, 1e-30f, -1e-30f, -87.33f, -87.34f, -103.9f, -104f, -1e4f, -1e30f, float.MinValue, 88.7f };
        for (double x = -110; x <= 88.72; x += 0.00731)
        {
            xs.Add((float)x);
        }

        var input = new float[16];
        double worst = 0;
        for (int b = 0; b < xs.Count; b += 16)
        {
            int count = Math.Min(16, xs.Count - b);
            Array.Clear(input);
            xs.CopyTo(b, input, 0, count);
            var e = DecodeAttentionExp.Exp(Vector512.Create(input));
            for (int t = 0; t < count; t++)
            {
                double exact = Math.Exp(input[t]);
                float got = e.GetElement(t);
                Assert.True(float.IsFinite(got) && got >= 0, $"exp({input[t]}) = {got}");
                if (exact >= 1.2e-38)
                {
                    double rel = Math.Abs(got - exact) / exact;
                    worst = Math.Max(worst, rel);
                    Assert.True(rel < 5e-7, $"exp({input[t]}): {got} vs {exact}, relative error {rel}");
                }
                else
                {
                    Assert.True(Math.Abs(got - exact) < 1e-44, $"exp({input[t]}): {got} vs {exact}");
                }

                if (input[t] <= -104)
                {
                    Assert.Equal(0f, got);
                }
            }
        }

        Assert.True(worst > 0 && worst < 5e-7);
    }

    /// <summary>Softmax attention per head in float64, with the max subtracted.</summary>
    private static void Reference(float[] q, Func<int, double> k, Func<int, double> v,
        int m, int heads, int kvHeads, int hd, double scale, double[] output)
    {
        int group = heads / kvHeads;
        var s = new double[m];
        for (int h = 0; h < heads; h++)
        {
            int c = h / group;
            double max = double.NegativeInfinity;
            for (int j = 0; j < m; j++)
            {
                double acc = 0;
                int row = (j * kvHeads + c) * hd;
                for (int i = 0; i < hd; i++)
                {
                    acc += q[h * hd + i] * k(row + i);
                }

                s[j] = acc * scale;
                max = Math.Max(max, s[j]);
            }

            double sum = 0;
            for (int j = 0; j < m; j++)
            {
                s[j] = Math.Exp(s[j] - max);
                sum += s[j];
            }

            for (int i = 0; i < hd; i++)
            {
                double o = 0;
                for (int j = 0; j < m; j++)
                {
                    o += s[j] * v((j * kvHeads + c) * hd + i);
                }

                output[h * hd + i] = o / sum;
            }
        }
    }
}
