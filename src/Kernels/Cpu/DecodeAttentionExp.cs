using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Llama4Cluster.Kernels.Cpu;

/// <summary>
/// exp over 16 fp32 lanes in fp32 (AVX-512F), for the softmax of <see cref="DecodeAttentionBlock"/>:
/// <c>exp(x) = 2^n · p(r)</c> with <c>n = round(x·log2 e)</c>, <c>r = x - n·ln 2</c> (ln 2 split in two
/// so r is exact to fp32) and p the degree-7 Taylor polynomial of e^r on |r| ≤ ln 2 / 2 (truncation
/// below 5e-9, so the error is fp32 rounding: about 2e-7 relative). <c>vscalefps</c> applies 2^n, so
/// results that underflow become subnormal and then 0 as they should; inputs are clamped to
/// [-104, 88.72], beyond which fp32 exp is 0 or overflows. .NET 10's Vector512.Exp(float) computes in
/// double and costs several times more.
/// </summary>
internal static class DecodeAttentionExp
{
    private const float Log2E = 1.44269504088896341f;
    private const float Ln2Hi = 0.693145751953125f; // 12 significant bits: n·Ln2Hi is exact for |n| < 2^12
    private const float Ln2Lo = 1.42860682030941723212e-6f;
    private const float Lo = -104f;
    private const float Hi = 88.72283f;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Exp(Vector512<float> x)
    {
        x = Avx512F.Min(Avx512F.Max(x, Vector512.Create(Lo)), Vector512.Create(Hi));
        // Round to nearest (imm 0: round to nearest even, keep 0 fraction bits).
        var n = Avx512F.RoundScale(x * Vector512.Create(Log2E), 0);
        var r = Avx512F.FusedMultiplyAdd(n, Vector512.Create(-Ln2Hi), x);
        r = Avx512F.FusedMultiplyAdd(n, Vector512.Create(-Ln2Lo), r);
        // Horner on 1 + r + r²/2! + … + r⁷/7!.
        var p = Vector512.Create(1f / 5040);
        p = Avx512F.FusedMultiplyAdd(p, r, Vector512.Create(1f / 720));
        p = Avx512F.FusedMultiplyAdd(p, r, Vector512.Create(1f / 120));
        p = Avx512F.FusedMultiplyAdd(p, r, Vector512.Create(1f / 24));
        p = Avx512F.FusedMultiplyAdd(p, r, Vector512.Create(1f / 6));
        p = Avx512F.FusedMultiplyAdd(p, r, Vector512.Create(0.5f));
        p = Avx512F.FusedMultiplyAdd(p, r, Vector512.Create(1f));
        p = Avx512F.FusedMultiplyAdd(p, r, Vector512.Create(1f));
        return Avx512F.Scale(p, n);
    }
}
