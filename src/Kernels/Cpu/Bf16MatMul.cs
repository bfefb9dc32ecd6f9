using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics.X86;

namespace Llama4Cluster.Kernels.Cpu;

/// <summary>
/// Decode-time (small batch) matrix product through bf16 weights:
/// <c>y[b, o] = Σ_i x[b, i]·W[o, i]</c>, x fp32 <c>[B, In]</c>, W bf16 bits <c>[Out, In]</c>
/// (the <c>nn.Linear</c> layout), y fp32 <c>[B, Out]</c>, all row-major.
/// </summary>
/// <remarks>
/// At batch 1..32 the product is limited by how fast W streams from memory, so the kernel reads
/// every weight byte once per call: each loaded block of 4 rows × 32 bf16 is widened to fp32 in
/// registers and multiplied with up to 4 batch rows; further batch rows re-read it from L1/L2.
/// Widening needs no shuffle: a 32-bit lane holding bf16 pair (w[2j], w[2j+1]) gives w[2j] as
/// <c>lane &lt;&lt; 16</c> and w[2j+1] as <c>lane &amp; 0xFFFF0000</c>. The activations are
/// reordered once per call to match ("lane order": in each block of 32, the 16 even elements,
/// then the 16 odd ones), so the inner loop is load, shift, and, FMA. Work is split into chunks
/// of output rows shared by the threads of a <see cref="CpuWorkerPool"/>.
/// </remarks>
public static unsafe partial class Bf16MatMul
{
    /// <summary>Batch rows above which a caller should prefer a GEMM library (oneDNN).</summary>
    public const int MaxDecodeBatch = 32;

    /// <summary>Weight bytes per chunk of work: long sequential streams for the prefetcher
    /// (512 KiB beat 96 KiB and 128 KiB at batch 1), while <see cref="RunSegments"/> still keeps
    /// several chunks per thread. Settable for experiments.</summary>
    internal static int ChunkBytes { get; set; } = 512 * 1024;

    private static readonly Bf16Isa DetectedIsa =
        Avx512F.IsSupported ? Bf16Isa.Avx512 : Avx2.IsSupported && Fma.IsSupported ? Bf16Isa.Avx2 : Bf16Isa.Scalar;

    /// <summary>Tests set this to run the AVX2 or scalar code on an AVX-512 machine.</summary>
    internal static Bf16Isa? ForcedIsa { get; set; }

    /// <summary>The instruction set the kernels use now.</summary>
    internal static Bf16Isa Isa
    {
        get
        {
            var forced = ForcedIsa;
            return forced.HasValue && forced.Value <= DetectedIsa ? forced.Value : DetectedIsa;
        }
    }

    /// <summary>Computes <c>y = x·Wᵀ</c> (overwrites y).</summary>
    /// <param name="x">fp32 <c>[batch, inFeatures]</c>.</param>
    /// <param name="weight">bf16 bits <c>[outFeatures, inFeatures]</c>.</param>
    /// <param name="y">fp32 <c>[batch, outFeatures]</c>.</param>
    /// <param name="batch">Rows of x and y.</param>
    /// <param name="inFeatures">Columns of x and W.</param>
    /// <param name="outFeatures">Rows of W, columns of y.</param>
    /// <param name="pool">Threads to use; <see cref="CpuWorkerPool.Shared"/> when null.</param>
    public static void Multiply(
        ReadOnlySpan<float> x, ReadOnlySpan<ushort> weight, Span<float> y,
        int batch, int inFeatures, int outFeatures, CpuWorkerPool? pool = null)
    {
        CheckShape(batch, inFeatures, outFeatures);
        if (x.Length < (long)batch * inFeatures || weight.Length < (long)outFeatures * inFeatures || y.Length < (long)batch * outFeatures)
        {
            throw new ArgumentException(
                $"Spans too short for x [{batch}, {inFeatures}], W [{outFeatures}, {inFeatures}], y [{batch}, {outFeatures}].");
        }

        fixed (float* px = x)
        fixed (ushort* pw = weight)
        fixed (float* py = y)
        {
            Multiply(px, pw, py, batch, inFeatures, outFeatures, pool);
        }
    }

    /// <summary>Pointer form of <see cref="Multiply(ReadOnlySpan{float}, ReadOnlySpan{ushort}, Span{float}, int, int, int, CpuWorkerPool?)"/>;
    /// the memory must stay valid (pinned) for the duration of the call.</summary>
    public static void Multiply(float* x, ushort* weight, float* y, int batch, int inFeatures, int outFeatures, CpuWorkerPool? pool = null)
    {
        CheckShape(batch, inFeatures, outFeatures);
        if (batch == 0 || outFeatures == 0)
        {
            return;
        }

        var isa = Isa;
        float* xl = KernelScratch.Floats((long)batch * inFeatures);
        for (int b = 0; b < batch; b++)
        {
            ToLaneOrder(x + (long)b * inFeatures, xl + (long)b * inFeatures, inFeatures, isa, 1f);
        }

        MatMulSegment* seg = KernelScratch.Segments(1);
        *seg = new MatMulSegment
        {
            W = weight,
            X = xl,
            Y = y,
            XStride = inFeatures,
            YStride = outFeatures,
            Batch = batch,
            In = inFeatures,
            Out = outFeatures,
        };
        RunSegments(seg, 1, isa, pool ?? CpuWorkerPool.Shared);
    }

    private static void CheckShape(int batch, int inFeatures, int outFeatures)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(batch);
        ArgumentOutOfRangeException.ThrowIfNegative(inFeatures);
        ArgumentOutOfRangeException.ThrowIfNegative(outFeatures);
    }

    /// <summary>Elements per lane-order block for <paramref name="isa"/> (0: natural order).</summary>
    internal static int LaneBlock(Bf16Isa isa) => isa switch
    {
        Bf16Isa.Avx512 => 32,
        Bf16Isa.Avx2 => 16,
        _ => 0,
    };

    /// <summary>
    /// Copies one activation row into lane order, times <paramref name="scale"/>: in each full block
    /// of <see cref="LaneBlock"/> elements the even elements come first, then the odd ones; the
    /// tail after the last full block stays in natural order.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void ToLaneOrder(float* src, float* dst, int n, Bf16Isa isa, float scale)
    {
        int block = LaneBlock(isa);
        int full = block == 0 ? 0 : n - n % block;
        int half = block / 2;
        for (int c = 0; c < full; c += block)
        {
            for (int j = 0; j < half; j++)
            {
                dst[c + j] = src[c + 2 * j] * scale;
                dst[c + half + j] = src[c + 2 * j + 1] * scale;
            }
        }

        for (int i = full; i < n; i++)
        {
            dst[i] = src[i] * scale;
        }
    }

    /// <summary>Splits the segments into chunks and runs them on all threads of <paramref name="pool"/>.</summary>
    internal static void RunSegments(MatMulSegment* segments, int count, Bf16Isa isa, CpuWorkerPool pool)
    {
        int total = 0;
        for (int s = 0; s < count; s++)
        {
            ref var seg = ref segments[s];
            long rowBytes = Math.Max(1L, (long)seg.In * sizeof(ushort));
            int rows = (int)Math.Clamp(ChunkBytes / rowBytes, 4, 4096) & ~3;
            // Keep at least ~4 chunks per thread so a preempted thread does not stall the call.
            int perThread = (seg.Out + 4 * pool.ThreadCount - 1) / (4 * pool.ThreadCount);
            rows = Math.Max(4, Math.Min(rows, (perThread + 3) & ~3));
            seg.RowsPerChunk = rows;
            seg.FirstChunk = total;
            seg.ChunkCount = seg.Batch == 0 ? 0 : (seg.Out + rows - 1) / rows;
            total += seg.ChunkCount;
        }

        var job = new MatMulJob { Segments = segments, SegmentCount = count, TotalChunks = total, Isa = isa };
        if (total <= 1)
        {
            ExecuteJob(&job, 0);
            return;
        }

        pool.Run(&ExecuteJob, &job);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ExecuteJob(void* state, int worker)
    {
        var job = (MatMulJob*)state;
        int s = 0;
        while (true)
        {
            int chunk = Interlocked.Increment(ref job->NextChunk) - 1;
            if (chunk >= job->TotalChunks)
            {
                return;
            }

            // Chunks are handed out in increasing order, so the segment cursor only moves forward.
            while (chunk >= job->Segments[s].FirstChunk + job->Segments[s].ChunkCount)
            {
                s++;
            }

            ref var seg = ref job->Segments[s];
            int o0 = (chunk - seg.FirstChunk) * seg.RowsPerChunk;
            int o1 = Math.Min(seg.Out, o0 + seg.RowsPerChunk);
            switch (job->Isa)
            {
                case Bf16Isa.Avx512:
                    RowsAvx512(ref seg, o0, o1);
                    break;
                case Bf16Isa.Avx2:
                    RowsAvx2(ref seg, o0, o1);
                    break;
                default:
                    RowsScalar(ref seg, o0, o1);
                    break;
            }
        }
    }

    /// <summary>Dot product of a bf16 row and a natural-order fp32 row, scalar.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static float DotScalar(ushort* w, float* x, int n)
    {
        float sum = 0;
        for (int i = 0; i < n; i++)
        {
            sum += Bf16Bits.ToSingle(w[i]) * x[i];
        }

        return sum;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void RowsScalar(ref MatMulSegment s, int o0, int o1)
    {
        for (int o = o0; o < o1; o++)
        {
            ushort* w = s.W + (long)o * s.In;
            for (int b = 0; b < s.Batch; b++)
            {
                s.Y[(long)b * s.YStride + o] = DotScalar(w, s.X + (long)b * s.XStride, s.In);
            }
        }
    }
}
