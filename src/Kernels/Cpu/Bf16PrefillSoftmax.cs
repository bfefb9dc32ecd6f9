using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using static Llama4Cluster.Kernels.Cpu.Bf16Bits;

namespace Llama4Cluster.Kernels.Cpu;

/// <summary>
/// The scale, mask and softmax of prefill attention in one pass over a bf16 score matrix, in place: what libtorch does
/// as a scale, an additive-mask add, an fp32 softmax and a cast back, four passes over (and three temporaries of) the
/// whole matrix. With the two matrix products left to libtorch's bf16 GEMMs (oneDNN), this is the materialized
/// attention of the reference (bf16 scores, fp32 softmax, bf16 probabilities) at GEMM speed; libtorch's fused CPU
/// attention instead multiplies its blocks through a bf16→fp32 GEMM that the CPU's math library emulates on AMD
/// processors (bench-0.8b, a 512-token prefill: ~26 ms a layer in it).
/// </summary>
/// <remarks>
/// Row r of <c>[KV, G·n, m]</c> belongs to query <c>i = r mod n</c> at absolute position <c>q0 + i</c>; key j (at
/// <c>k0 + j</c>) is visible iff <c>k0 + j ≤ q0 + i</c> and, with chunked attention, both lie in the same absolute
/// chunk (spec §2.3). A visible score becomes <c>bf16(s·scale)</c> (the bf16 scale op's rounding), then
/// <c>exp(s − max) / Σ</c> in fp32 over the visible keys, rounded to bf16; masked keys get 0. Rows are independent
/// and spread over the worker pool.
/// </remarks>
internal static unsafe class Bf16PrefillSoftmax
{
    private struct Job
    {
        public ushort* Scores;
        public int Rows;
        public int N;
        public int M;
        public long Q0;
        public long K0;
        public int Chunk; // 0: none
        public float Scale;
        public int NextRow;
    }

    /// <summary>Rows handed to a thread at a time.</summary>
    private const int RowsPerClaim = 8;

    /// <summary>Whether this CPU runs the kernel (it is written for AVX-512).</summary>
    public static bool IsSupported => Avx512F.IsSupported;

    /// <summary>Scales, masks and soft-maxes <paramref name="rows"/> rows of <paramref name="m"/> bf16 scores in place.</summary>
    public static void Run(ushort* scores, int rows, int n, int m, long q0, long k0, int? chunk, float scale, CpuWorkerPool pool)
    {
        if (!IsSupported) throw new PlatformNotSupportedException("the prefill softmax kernel needs AVX-512");
        ArgumentOutOfRangeException.ThrowIfLessThan(n, 1);
        if (rows % n != 0) throw new ArgumentException($"{rows} score rows are not a whole number of {n}-query blocks", nameof(rows));
        var job = new Job
        {
            Scores = scores, Rows = rows, N = n, M = m, Q0 = q0, K0 = k0, Chunk = chunk ?? 0, Scale = scale,
        };
        pool.Run(&Execute, &job);
    }

    private static void Execute(void* state, int worker)
    {
        var job = (Job*)state;
        while (true)
        {
            int first = (Interlocked.Add(ref job->NextRow, RowsPerClaim) - RowsPerClaim);
            if (first >= job->Rows) return;
            int last = Math.Min(first + RowsPerClaim, job->Rows);
            for (int r = first; r < last; r++)
            {
                long position = job->Q0 + r % job->N;
                long start = job->Chunk > 0 ? Math.Max(job->K0, position / job->Chunk * job->Chunk) : job->K0;
                int lo = (int)Math.Clamp(start - job->K0, 0, job->M);
                int hi = (int)Math.Clamp(position - job->K0 + 1, lo, job->M); // visible keys: [lo, hi)
                Row(job->Scores + (long)r * job->M, job->M, lo, hi, job->Scale);
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Row(ushort* s, int m, int lo, int hi, float scale)
    {
        if (hi <= lo)
        {
            // No visible key (cannot happen for a query that sees itself): libtorch's softmax of all −inf is NaN.
            for (int j = 0; j < m; j++) s[j] = 0x7FC0;
            return;
        }

        // Pass 1: scale with the bf16 op's rounding, keep the values (as bf16) and the maximum.
        var vscale = Vector512.Create(scale);
        var vmax = Vector512.Create(float.NegativeInfinity);
        int j0 = lo;
        for (; j0 + 16 <= hi; j0 += 16)
        {
            var v = RoundValues(Load16(s + j0) * vscale);
            Store16(s + j0, v);
            vmax = Vector512.Max(vmax, v);
        }

        float max = HorizontalMax(vmax);
        for (int j = j0; j < hi; j++)
        {
            float v = RoundValue(ToSingle(s[j]) * scale);
            s[j] = (ushort)(BitConverter.SingleToUInt32Bits(v) >> 16);
            max = MathF.Max(max, v);
        }

        // Pass 2: the sum of exp(v - max) in fp32.
        var vm = Vector512.Create(max);
        var vsum = Vector512<float>.Zero;
        int j1 = lo;
        for (; j1 + 16 <= hi; j1 += 16)
            vsum += DecodeAttentionExp.Exp(Load16(s + j1) - vm);
        float sum = Vector512.Sum(vsum);
        for (int j = j1; j < hi; j++)
            sum += MathF.Exp(ToSingle(s[j]) - max);

        // Pass 3: probabilities, rounded to bf16; masked keys 0.
        float inv = 1f / sum;
        var vinv = Vector512.Create(inv);
        int j2 = lo;
        for (; j2 + 16 <= hi; j2 += 16)
            Store16(s + j2, RoundValues(DecodeAttentionExp.Exp(Load16(s + j2) - vm) * vinv));
        for (int j = j2; j < hi; j++)
            s[j] = Round(MathF.Exp(ToSingle(s[j]) - max) * inv);
        new Span<ushort>(s, lo).Clear();
        new Span<ushort>(s + hi, m - hi).Clear();
    }

    private static float HorizontalMax(Vector512<float> v)
    {
        var h = Vector256.Max(v.GetLower(), v.GetUpper());
        var q = Vector128.Max(h.GetLower(), h.GetUpper());
        float a = MathF.Max(q.GetElement(0), q.GetElement(1)), b = MathF.Max(q.GetElement(2), q.GetElement(3));
        return MathF.Max(a, b);
    }
}
