using System.Runtime.CompilerServices;
using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using TorchSharp;

namespace Llama4Cluster.Kernels.Cpu;

/// <summary>
/// Memory-read bandwidth probes, to compare kernels with the machine's roofline in the same
/// process and run (the development machines are shared and noisy: compare ratios, not times).
/// </summary>
public static unsafe class MemoryBandwidth
{
    /// <summary>Default probe size: far beyond any last-level cache.</summary>
    public const long DefaultBytes = 512L << 20;

    private const long ChunkBytes = 1L << 20;

    /// <summary>
    /// Sums a buffer of <paramref name="bytes"/> with Vector512 loads on every thread of
    /// <paramref name="pool"/> (shared pool when null); returns the best of
    /// <paramref name="repeats"/> passes, in GB/s (10⁹ bytes/s).
    /// </summary>
    public static double Measure(long bytes = DefaultBytes, int repeats = 5, CpuWorkerPool? pool = null) =>
        MeasurePasses(bytes, repeats, pool).Max();

    /// <summary>GB/s of each of <paramref name="repeats"/> timed passes of <see cref="Measure"/>,
    /// after one untimed pass (the first pass over fresh pages is consistently slower).</summary>
    public static double[] MeasurePasses(long bytes = DefaultBytes, int repeats = 5, CpuWorkerPool? pool = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(bytes, ChunkBytes);
        ArgumentOutOfRangeException.ThrowIfLessThan(repeats, 1);
        pool ??= CpuWorkerPool.Shared;
        bytes -= bytes % ChunkBytes;
        var buffer = (float*)NativeMemory.AlignedAlloc((nuint)bytes, 4096);
        try
        {
            // Touch every page first, so the timed passes measure reads, not page faults.
            for (long off = 0; off < bytes; off += int.MaxValue / 2)
            {
                new Span<byte>((byte*)buffer + off, (int)Math.Min(int.MaxValue / 2, bytes - off)).Fill(1);
            }

            var passes = new double[repeats];
            var partial = stackalloc float[Math.Max(pool.ThreadCount, 1) * 16];
            for (int r = -1; r < repeats; r++)
            {
                var job = new SumJob { Data = buffer, Chunks = (int)(bytes / ChunkBytes), Partial = partial };
                long t0 = Stopwatch.GetTimestamp();
                pool.Run(&SumBody, &job);
                double seconds = Stopwatch.GetElapsedTime(t0).TotalSeconds;
                if (r >= 0)
                {
                    passes[r] = bytes / seconds / 1e9;
                }
            }

            return passes;
        }
        finally
        {
            NativeMemory.AlignedFree(buffer);
        }
    }

    /// <summary>
    /// The same probe through libtorch: <c>tensor.sum()</c> of an fp32 tensor of
    /// <paramref name="bytes"/>, with libtorch's current thread count; best of
    /// <paramref name="repeats"/>, GB/s.
    /// </summary>
    public static double MeasureTorchSum(long bytes = DefaultBytes, int repeats = 5)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(repeats, 1);
        using var scope = torch.NewDisposeScope();
        using var _ = torch.inference_mode();
        var t = torch.ones(bytes / sizeof(float), dtype: torch.float32);
        double best = 0;
        for (int r = 0; r < repeats; r++)
        {
            long t0 = Stopwatch.GetTimestamp();
            using var s = t.sum();
            s.item<float>();
            double seconds = Stopwatch.GetElapsedTime(t0).TotalSeconds;
            best = Math.Max(best, t.NumberOfElements * sizeof(float) / seconds / 1e9);
        }

        return best;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void SumBody(void* state, int worker)
    {
        var job = (SumJob*)state;
        Vector512<float> a = default, b = default, c = default, d = default;
        while (true)
        {
            int chunk = Interlocked.Increment(ref job->Next) - 1;
            if (chunk >= job->Chunks)
            {
                break;
            }

            // Four sequential streams per thread (the quarters of the chunk), like the matmul
            // kernel's four weight rows: one stream per core leaves the prefetchers idle.
            const long Quarter = ChunkBytes / sizeof(float) / 4;
            float* p = job->Data + chunk * (ChunkBytes / sizeof(float));
            float* end = p + Quarter;
            for (; p < end; p += 16)
            {
                a += Vector512.Load(p);
                b += Vector512.Load(p + Quarter);
                c += Vector512.Load(p + 2 * Quarter);
                d += Vector512.Load(p + 3 * Quarter);
            }
        }

        // Keep the sums observable so the loads are not optimized away.
        (a + b + c + d).Store(job->Partial + worker * 16);
    }

    private struct SumJob
    {
        public float* Data;
        public float* Partial;
        public int Chunks;
        public int Next;
    }
}
