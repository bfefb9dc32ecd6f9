using System.Runtime.InteropServices;
using Llama4Cluster.Kernels.Cpu;

namespace Llama4Cluster.Kernels.Tests.Cpu;

/// <summary><see cref="Bf16SwiGlu"/> against a float64 SwiGLU reference.</summary>
[Collection(CpuKernelCollection.Name)]
public sealed unsafe class Bf16SwiGluTests
{
    [Theory]
    [InlineData(1, 64, 32)]
    [InlineData(3, 70, 33)]
    [InlineData(5, 128, 100)]
    [InlineData(17, 33, 7)]
    [InlineData(8, 256, 512)]
    public void ForwardMatchesReferenceOnEveryIsa(int batch, int d, int f)
    {
        var rng = new Random(batch + d * 3 + f * 7);
        var x = Bf16Reference.RandomFloats(rng, batch * d);
        var gateUp = Bf16Reference.RandomBf16(rng, 2 * f * d, 0.2);
        var down = Bf16Reference.RandomBf16(rng, d * f, 0.2);
        var expected = Bf16Reference.SwiGlu(x, gateUp, down, batch, d, f);
        foreach (var isa in IsaScope.Available)
        {
            using var _ = new IsaScope(isa);
            fixed (ushort* pgu = gateUp)
            fixed (ushort* pd = down)
            {
                var w = new Bf16ExpertWeights((nint)pgu, (nint)pd, d, f);
                var y = new float[batch * d];
                Array.Fill(y, float.NaN);
                Bf16SwiGlu.Forward(x, batch, w, y, accumulate: false);
                Bf16Reference.AssertClose(expected, y, 1e-4, $"{isa} overwrite");

                Array.Fill(y, 1f);
                Bf16SwiGlu.Forward(x, batch, w, y, accumulate: true);
                Bf16Reference.AssertClose(expected.Select(v => v + 1).ToArray(), y, 1e-4, $"{isa} accumulate");
            }
        }
    }

    [Fact]
    public void ForwardManyMatchesPerExpertReferenceWithScalesAndSharedTokens()
    {
        const int Tokens = 9, D = 96, Experts = 4;
        int[] f = [64, 40, 33, 128];
        var rng = new Random(42);
        var x = Bf16Reference.RandomFloats(rng, Tokens * D);
        var gateUps = f.Select(fi => Bf16Reference.RandomBf16(rng, 2 * fi * D, 0.2)).ToArray();
        var downs = f.Select(fi => Bf16Reference.RandomBf16(rng, D * fi, 0.2)).ToArray();
        // Top-2 routing: token t goes to experts t % 4 and (t + 1) % 4; expert 3 gets none on purpose.
        var tokensOf = new List<int>[Experts];
        var inScales = new List<float>[Experts];
        var outScales = new List<float>[Experts];
        for (int e = 0; e < Experts; e++)
        {
            tokensOf[e] = [];
            inScales[e] = [];
            outScales[e] = [];
        }

        for (int t = 0; t < Tokens; t++)
        {
            foreach (int e in new[] { t % 3, (t + 1) % 3 })
            {
                tokensOf[e].Add(t);
                inScales[e].Add(0.5f + 0.1f * t);
                outScales[e].Add(1f - 0.05f * t);
            }
        }

        var expected = new double[Tokens * D];
        for (int e = 0; e < Experts; e++)
        {
            for (int i = 0; i < tokensOf[e].Count; i++)
            {
                int t = tokensOf[e][i];
                var xt = x.AsSpan(t * D, D).ToArray().Select(v => v * inScales[e][i]).ToArray();
                var yt = Bf16Reference.SwiGlu(xt, gateUps[e], downs[e], 1, D, f[e]);
                for (int j = 0; j < D; j++)
                {
                    expected[t * D + j] += outScales[e][i] * yt[j];
                }
            }
        }

        var handles = gateUps.Concat(downs).Select(a => GCHandle.Alloc(a, GCHandleType.Pinned)).ToArray();
        try
        {
            var assignments = Enumerable.Range(0, Experts).Select(e => new Bf16ExpertAssignment(
                new Bf16ExpertWeights(handles[e].AddrOfPinnedObject(), handles[Experts + e].AddrOfPinnedObject(), D, f[e]),
                tokensOf[e].ToArray(), inScales[e].ToArray(), outScales[e].ToArray())).ToArray();
            foreach (var isa in IsaScope.Available)
            {
                using var _ = new IsaScope(isa);
                var y = new float[Tokens * D];
                Array.Fill(y, float.NaN);
                Bf16SwiGlu.ForwardMany(x, Tokens, assignments, y, accumulate: false);
                Bf16Reference.AssertClose(expected, y, 1e-4, $"{isa} many");
            }

            Assert.Throws<ArgumentOutOfRangeException>(() => Bf16SwiGlu.ForwardMany(
                x, Tokens, [assignments[0] with { Tokens = new[] { Tokens }, InputScales = default, OutputScales = default }], new float[Tokens * D], false));
            Assert.Throws<ArgumentException>(() => Bf16SwiGlu.ForwardMany(
                x, Tokens, [assignments[0] with { InputScales = new float[1] }], new float[Tokens * D], false));
        }
        finally
        {
            foreach (var h in handles)
            {
                h.Free();
            }
        }
    }
}
