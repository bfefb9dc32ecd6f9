using Llama4Cluster.Core.Config;
using Llama4Cluster.Kernels.Model;
using Llama4Cluster.Kernels.Model.Moe;
using Llama4Cluster.Kernels.Runtime;
using TorchSharp;

namespace Llama4Cluster.Kernels.Tests.Model;

/// <summary>Each formula of spec §2 against the hand-computed values of spec §6.3.</summary>
public sealed class FormulaTests
{
    private static void Close(IReadOnlyList<double> expected, IReadOnlyList<float> actual, double relative = 1e-6)
    {
        Assert.Equal(expected.Count, actual.Count);
        for (int i = 0; i < expected.Count; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= relative * Math.Abs(expected[i]) + 1e-12,
                $"index {i}: expected {expected[i]}, got {actual[i]}");
    }

    [Fact]
    public void InverseFrequenciesUnscaled() => Close(
        [1, 0.316227766, 0.1, 0.0316227766, 0.01, 0.00316227766, 0.001, 0.000316227766],
        RotaryEmbedding.ComputeInverseFrequencies(16, 10000, null));

    [Fact]
    public void InverseFrequenciesTinyScoutEmptyMiddleBandHasNoNaN() => Close(
        [1, 0.316227766, 0.1, 1.976423538e-3, 6.25e-4, 1.976423538e-4, 6.25e-5, 1.976423538e-5],
        RotaryEmbedding.ComputeInverseFrequencies(16, 10000, new RopeScaling(16, 1, 1, 64)));

    [Fact]
    public void InverseFrequenciesSmoothBand() => Close(
        [1, 0.2443845994, 0.01304225604, 3.952847075e-3, 1.25e-3, 3.952847075e-4, 1.25e-4, 3.952847075e-5],
        RotaryEmbedding.ComputeInverseFrequencies(16, 10000, new RopeScaling(8, 1, 4, 64)));

    [Fact]
    public void InverseFrequenciesTinyMaverick() => Close(
        [1, 0.03760603093, 0.001414213562, 5.318295897e-5],
        RotaryEmbedding.ComputeInverseFrequencies(8, 500000, null));

    [Fact]
    public void ScoutKeepsIndices0To34AndDividesTheRest()
    {
        var plain = RotaryEmbedding.ComputeInverseFrequencies(128, 500000, null);
        var scaled = RotaryEmbedding.ComputeInverseFrequencies(128, 500000, new RopeScaling(16, 1, 1, 8192));
        for (int i = 0; i < 64; i++)
            Assert.Equal(i <= 34 ? plain[i] : plain[i] / 16, scaled[i], 1e-12);
    }

    [Fact]
    public void RopeRotatesInterleavedPairsNotHalves()
    {
        using var rope = new RotaryEmbedding(4, 10000, null, torch.CPU);
        using var positions = torch.tensor(new long[] { 1 });
        var (cos, sin) = rope.CosSin(positions);
        using var u = torch.tensor(new float[] { 1, 2, 3, 4 }).reshape(1, 1, 4);
        using var r = RotaryEmbedding.Apply(u, cos, sin);
        Close([-1.1426397, 1.9220756, 2.9598507, 4.0297995], r.data<float>().ToArray());
        cos.Dispose();
        sin.Dispose();
    }

    [Fact]
    public void TemperatureTables()
    {
        Close([1, 1.0693147, 1.0693147, 1.1098612, 1.1098612, 1.1386294, 1.1386294, 1.1609438, 1.1609438, 1.1791759],
            Enumerable.Range(0, 10).Select(p => (float)AttentionTemperature.Scale(p, 2, 0.1)).ToArray());
        using var pos = ScalarOps.Arange(0, 12, torch.ScalarType.Int64, torch.CPU);
        using var t = AttentionTemperature.Scales(pos, 3, 0.25);
        Close([1, 1, 1.1732868, 1.1732868, 1.1732868, 1.2746531, 1.2746531, 1.2746531, 1.3465736, 1.3465736, 1.3465736, 1.4023595],
            t.data<float>().ToArray());
        // Scout/Maverick constants: exactly 1 below p = 8191.
        Assert.Equal(1.0, AttentionTemperature.Scale(8190, 8192, 0.1));
        Assert.Equal(1.0693147, AttentionTemperature.Scale(8191, 8192, 0.1), 6);
        Assert.Equal(1.2564949, AttentionTemperature.Scale(100_000, 8192, 0.1), 6);
    }

    [Fact]
    public void ChunkedAndGlobalMasksForSixTokens()
    {
        using var chunked = AttentionMask.Additive(0, 6, 0, 6, 4, torch.ScalarType.Float32, torch.CPU);
        using var global = AttentionMask.Additive(0, 6, 0, 6, null, torch.ScalarType.Float32, torch.CPU);
        int[][] chunkRows = [[0], [0, 1], [0, 1, 2], [0, 1, 2, 3], [4], [4, 5]];
        var c = chunked.data<float>().ToArray();
        var g = global.data<float>().ToArray();
        for (int q = 0; q < 6; q++)
            for (int k = 0; k < 6; k++)
            {
                Assert.Equal(chunkRows[q].Contains(k), c[q * 6 + k] == 0);
                Assert.Equal(k <= q, g[q * 6 + k] == 0);
            }
        // Chunks are absolute: a token at p = 8192 sees only itself.
        Assert.False(AttentionMask.Allowed(8192, 8191, 8192));
        Assert.True(AttentionMask.Allowed(8193, 8192, 8192));
    }

    [Fact]
    public void RmsNormCastsBackBeforeTheWeight()
    {
        using var x = torch.tensor(new float[] { 1, 2, 3, 4 });
        using var w = torch.tensor(new float[] { 1, 0.5f, 2, 1 });
        using var y = RmsNorm.Apply(x, w, 1e-5);
        double r = 1 / Math.Sqrt((1 + 4 + 9 + 16) / 4.0 + 1e-5);
        Close([1 * r, 2 * r * 0.5, 3 * r * 2, 4 * r], y.data<float>().ToArray());
        // bf16: the normalised value is rounded to bf16 before the multiply.
        using var xb = x.to_type(torch.ScalarType.BFloat16);
        using var wb = torch.ones(4, dtype: torch.ScalarType.BFloat16).MulInPlace(3);
        using var yb = RmsNorm.Apply(xb, wb, 1e-5).to_type(torch.ScalarType.Float32);
        using var nb = RmsNorm.Normalize(xb, 1e-5).to_type(torch.ScalarType.Float32).MulInPlace(3).to_type(torch.ScalarType.BFloat16).to_type(torch.ScalarType.Float32);
        Assert.Equal(nb.data<float>().ToArray(), yb.data<float>().ToArray());
    }

    [Fact]
    public async Task MoeWeightMultipliesTheExpertInputNotItsOutput()
    {
        // One token, 2 experts, top-1: y = Shared(x) + Expert_e(g·x), not Shared(x) + g·Expert_e(x).
        int d = 4, f = 3;
        var rng = new Random(3);
        torch.Tensor R(params long[] shape) => torch.tensor(Enumerable.Range(0, (int)shape.Aggregate(1L, (a, b) => a * b)).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray(), shape);
        var routerW = R(2, d);
        var sharedGu = R(2 * f, d);
        var sharedDn = R(d, f);
        var gateUp = R(2, 2 * f, d);
        var down = R(2, d, f);
        using var x = R(1, d);
        using var moe = new MoeBlock(new Router(routerW, 1), new SwiGluMlp(sharedGu.clone(), sharedDn.clone()));
        var dispatcher = new LocalExpertDispatcher();
        dispatcher.Add(0, new GroupedExperts([0, 1], gateUp.clone(), down.clone()));
        using var executor = new DispatchingMoeExecutor(dispatcher, ownsDispatcher: true);
        using var y = await executor.ForwardAsync(moe, 0, x, default, default);

        using var logits = torch.nn.functional.linear(x, routerW);
        var l = logits.data<float>().ToArray();
        int e = l[0] >= l[1] ? 0 : 1;
        float g = 1 / (1 + MathF.Exp(-l[e]));
        torch.Tensor Expert(torch.Tensor z)
        {
            var gu = torch.nn.functional.linear(z, gateUp[e]);
            var h = torch.nn.functional.silu(gu.narrow(1, 0, f)) * gu.narrow(1, f, f);
            return torch.nn.functional.linear(h, down[e]);
        }
        using var shared = new SwiGluMlp(sharedGu, sharedDn).Forward(x);
        using var inputSide = shared.Add(Expert(x.clone().MulInPlace(g)));
        using var outputSide = shared.Add(Expert(x).MulInPlace(g));
        Assert.True(torch.allclose(y, inputSide, rtol: 1e-5, atol: 1e-6));
        Assert.False(torch.allclose(y, outputSide, rtol: 1e-3, atol: 1e-4));
    }

    [Fact]
    public void RouterPicksTopKOfRawLogitsAndDoesNotRenormalise()
    {
        using var w = torch.tensor(new float[] { 1, 0, 0, 1, -1, 0, 0.5f, 0.5f }, [4, 2]);
        using var router = new Router(w.clone(), 2);
        using var x = torch.tensor(new float[] { 2, 1 }, [1, 2]);
        using var r = router.Route(x);
        // logits: [2, 1, -2, 1.5] -> experts 0 (2.0) and 3 (1.5).
        Assert.Equal([0L, 3L], r.ExpertIds.data<long>().ToArray());
        var weights = r.Weights.data<float>().ToArray();
        Assert.Equal(1 / (1 + Math.Exp(-2)), weights[0], 6);
        Assert.Equal(1 / (1 + Math.Exp(-1.5)), weights[1], 6);
    }
}
