using System.Buffers;

namespace Llama4Cluster.Kernels.Cpu;

/// <summary>
/// Decode-time SwiGLU experts through bf16 weights: <c>h = silu(x·Gᵀ) ⊙ (x·Uᵀ)</c>,
/// <c>y = h·Downᵀ</c>, x and y fp32 <c>[tokens, D]</c>.
/// </summary>
/// <remarks>
/// A call runs two parallel phases on the pool: every selected expert's gate/up rows, then every
/// expert's down rows, so one call per MoE layer streams all selected experts' weights once with
/// all threads busy (no per-expert synchronization). Experts write to private scratch; the
/// results are added into y by the calling thread, so experts sharing a token (top-k &gt; 1)
/// never race.
/// </remarks>
public static unsafe class Bf16SwiGlu
{
    /// <summary>One expert over <paramref name="batch"/> rows: y = expert(x), or y += expert(x)
    /// when <paramref name="accumulate"/>.</summary>
    public static void Forward(
        ReadOnlySpan<float> x, int batch, Bf16ExpertWeights expert, Span<float> y, bool accumulate, CpuWorkerPool? pool = null)
    {
        CheckRows(x.Length, y.Length, batch, expert.Hidden);
        fixed (float* px = x)
        fixed (float* py = y)
        {
            Forward(px, batch, expert, py, accumulate, pool);
        }
    }

    /// <summary>Pointer form of <see cref="Forward(ReadOnlySpan{float}, int, Bf16ExpertWeights, Span{float}, bool, CpuWorkerPool?)"/>.</summary>
    public static void Forward(float* x, int batch, Bf16ExpertWeights expert, float* y, bool accumulate, CpuWorkerPool? pool = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(batch);
        var one = new ExpertPlan { Weights = expert, Count = batch };
        Run(x, batch, &one, 1, y, accumulate, pool ?? CpuWorkerPool.Shared);
    }

    /// <summary>
    /// A MoE layer's routed experts in one call. y (<c>[tokens, D]</c>) becomes, or when
    /// <paramref name="accumulate"/> gains, Σ over assignments of outScale·expert(inScale·x[token]).
    /// All experts must share the hidden size D.
    /// </summary>
    public static void ForwardMany(
        ReadOnlySpan<float> x, int tokens, ReadOnlySpan<Bf16ExpertAssignment> experts, Span<float> y, bool accumulate,
        CpuWorkerPool? pool = null)
    {
        if (experts.IsEmpty)
        {
            if (!accumulate)
            {
                y.Clear();
            }

            return;
        }

        int d = experts[0].Weights.Hidden;
        CheckRows(x.Length, y.Length, tokens, d);
        var plans = ArrayPool<ExpertPlan>.Shared.Rent(experts.Length);
        var handles = ArrayPool<MemoryHandle>.Shared.Rent(experts.Length * 3);
        int pinned = 0;
        try
        {
            for (int e = 0; e < experts.Length; e++)
            {
                var a = experts[e];
                if (a.Weights.Hidden != d)
                {
                    throw new ArgumentException($"Expert {e} has hidden size {a.Weights.Hidden}, expert 0 has {d}: all experts of a call must match.", nameof(experts));
                }

                int n = a.Tokens.Length;
                if ((!a.InputScales.IsEmpty && a.InputScales.Length != n) || (!a.OutputScales.IsEmpty && a.OutputScales.Length != n))
                {
                    throw new ArgumentException($"Expert {e}: scales must be empty or have one entry per token ({n}).", nameof(experts));
                }

                foreach (int t in a.Tokens.Span)
                {
                    if ((uint)t >= (uint)tokens)
                    {
                        throw new ArgumentOutOfRangeException(nameof(experts), $"Expert {e}: token {t} is outside [0, {tokens}).");
                    }
                }

                handles[pinned++] = a.Tokens.Pin();
                handles[pinned++] = a.InputScales.Pin();
                handles[pinned++] = a.OutputScales.Pin();
                plans[e] = new ExpertPlan
                {
                    Weights = a.Weights,
                    Count = n,
                    Tokens = (int*)handles[pinned - 3].Pointer,
                    InputScales = a.InputScales.IsEmpty ? null : (float*)handles[pinned - 2].Pointer,
                    OutputScales = a.OutputScales.IsEmpty ? null : (float*)handles[pinned - 1].Pointer,
                };
            }

            fixed (float* px = x)
            fixed (float* py = y)
            fixed (ExpertPlan* pp = plans)
            {
                Run(px, tokens, pp, experts.Length, py, accumulate, pool ?? CpuWorkerPool.Shared);
            }
        }
        finally
        {
            for (int i = 0; i < pinned; i++)
            {
                handles[i].Dispose();
            }

            ArrayPool<MemoryHandle>.Shared.Return(handles, clearArray: true);
            ArrayPool<ExpertPlan>.Shared.Return(plans);
        }
    }

    private static void CheckRows(int xLength, int yLength, int rows, int hidden)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(rows);
        if (xLength < (long)rows * hidden || yLength < (long)rows * hidden)
        {
            throw new ArgumentException($"x and y must hold [{rows}, {hidden}] floats (x has {xLength}, y {yLength}).");
        }
    }

    /// <summary>
    /// The three stages of a call: gate|up for every expert as one set of matmul segments, then
    /// SwiGLU and down as a second set, then the scaled rows summed into y. Each stage needs all
    /// experts' results of the one before, so the pool runs two segment sets.
    /// </summary>
    private static void Run(float* x, int tokens, ExpertPlan* plans, int count, float* y, bool accumulate, CpuWorkerPool pool)
    {
        var isa = Bf16MatMul.Isa;
        int d = plans[0].Weights.Hidden;
        float* scratch = KernelScratch.Floats(ScratchFloats(plans, count, d));
        MatMulSegment* segments = KernelScratch.Segments(count);
        int active = GateUpSegments(x, plans, count, d, isa, scratch, segments);
        Bf16MatMul.RunSegments(segments, active, isa, pool);
        active = DownSegments(plans, count, d, isa, segments);
        Bf16MatMul.RunSegments(segments, active, isa, pool);
        Combine(plans, count, tokens, d, y, accumulate);
    }

    /// <summary>Scratch per expert: x in lane order [n, D], gate|up [n, 2F], h in lane order [n, F],
    /// output [n, D]; each region rounded to 16 floats (64 bytes).</summary>
    private static long ScratchFloats(ExpertPlan* plans, int count, int d)
    {
        long total = 0;
        for (int e = 0; e < count; e++)
        {
            long n = plans[e].Count;
            int f = plans[e].Weights.Intermediate;
            total += Round16(n * d) + Round16(n * 2 * f) + Round16(n * f) + Round16(n * d);
        }

        return total;
    }

    /// <summary>Carves each expert's scratch regions, puts its tokens' rows of x (times the input
    /// scales) in lane order, and returns the number of gate|up segments written.</summary>
    private static int GateUpSegments(float* x, ExpertPlan* plans, int count, int d, Bf16Isa isa, float* scratch, MatMulSegment* segments)
    {
        int active = 0;
        for (int e = 0; e < count; e++)
        {
            ref var p = ref plans[e];
            long n = p.Count;
            int f = p.Weights.Intermediate;
            p.XLanes = scratch;
            scratch += Round16(n * d);
            p.GateUp = scratch;
            scratch += Round16(n * 2 * f);
            p.HLanes = scratch;
            scratch += Round16(n * f);
            p.Out = scratch;
            scratch += Round16(n * d);
            for (int t = 0; t < p.Count; t++)
            {
                int row = p.Tokens is null ? t : p.Tokens[t];
                float scale = p.InputScales is null ? 1f : p.InputScales[t];
                Bf16MatMul.ToLaneOrder(x + (long)row * d, p.XLanes + (long)t * d, d, isa, scale);
            }

            if (p.Count > 0 && f > 0)
            {
                segments[active++] = new MatMulSegment
                {
                    W = (ushort*)p.Weights.GateUp,
                    X = p.XLanes,
                    Y = p.GateUp,
                    XStride = d,
                    YStride = 2 * f,
                    Batch = p.Count,
                    In = d,
                    Out = 2 * f,
                };
            }
        }

        return active;
    }

    /// <summary>h = silu(gate)·up in place, in lane order for the down matmul; returns the number of
    /// down segments written.</summary>
    private static int DownSegments(ExpertPlan* plans, int count, int d, Bf16Isa isa, MatMulSegment* segments)
    {
        int active = 0;
        for (int e = 0; e < count; e++)
        {
            ref var p = ref plans[e];
            int f = p.Weights.Intermediate;
            for (int t = 0; t < p.Count; t++)
            {
                float* gu = p.GateUp + (long)t * 2 * f;
                for (int j = 0; j < f; j++)
                {
                    float g = gu[j];
                    gu[j] = g / (1f + MathF.Exp(-g)) * gu[f + j];
                }

                Bf16MatMul.ToLaneOrder(gu, p.HLanes + (long)t * f, f, isa, 1f);
            }

            if (p.Count > 0)
            {
                segments[active++] = new MatMulSegment
                {
                    W = (ushort*)p.Weights.Down,
                    X = p.HLanes,
                    Y = p.Out,
                    XStride = f,
                    YStride = d,
                    Batch = p.Count,
                    In = f,
                    Out = d,
                };
            }
        }

        return active;
    }

    /// <summary>y (cleared first unless accumulating) += output scale · each expert's output rows.</summary>
    private static void Combine(ExpertPlan* plans, int count, int tokens, int d, float* y, bool accumulate)
    {
        if (!accumulate)
        {
            new Span<float>(y, checked(tokens * d)).Clear();
        }

        for (int e = 0; e < count; e++)
        {
            ref var p = ref plans[e];
            for (int t = 0; t < p.Count; t++)
            {
                int row = p.Tokens is null ? t : p.Tokens[t];
                float scale = p.OutputScales is null ? 1f : p.OutputScales[t];
                float* dst = y + (long)row * d;
                float* src = p.Out + (long)t * d;
                for (int i = 0; i < d; i++)
                {
                    dst[i] += scale * src[i];
                }
            }
        }
    }

    private static long Round16(long n) => (n + 15) & ~15L;

    /// <summary>One expert's inputs and scratch regions during a call.</summary>
    private struct ExpertPlan
    {
        public Bf16ExpertWeights Weights;
        public int Count;
        public int* Tokens;
        public float* InputScales;
        public float* OutputScales;
        public float* XLanes;
        public float* GateUp;
        public float* HLanes;
        public float* Out;
    }
}
