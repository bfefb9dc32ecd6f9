using System.Runtime.InteropServices;

namespace Llama4Cluster.Kernels.Runtime;

/// <summary>
/// glibc's malloc serves blocks above its mmap threshold (128 KiB, rising to at most 32 MiB as such blocks are freed)
/// with fresh <c>mmap</c> pages and returns the top of the heap to the kernel once more than its trim threshold is free.
/// libtorch allocates every temporary through malloc, so each large temporary of a prefill (a layer's attention scores
/// for 512 tokens are 16 MiB in fp32, and every elementwise op makes a new one) is faulted in page by page on first
/// write, which inside a VM costs more than the op itself: bench-0.8b prefill ran at 276 tokens/s with glibc's
/// defaults and 371 with the two settings below, in back-to-back runs. <see cref="KeepFreedMemory"/> raises the mmap
/// threshold to its maximum and the trim threshold to <see cref="TrimThresholdBytes"/>, so freed temporaries stay in
/// the heap for the next op; the process then keeps up to that much freed memory instead of returning it.
/// Executables call it first thing in Main, through <see cref="NativeRuntimeSettings.ApplyBeforeTorch"/>. A value the user set (<c>MALLOC_MMAP_THRESHOLD_</c>,
/// <c>MALLOC_TRIM_THRESHOLD_</c>, which glibc reads at start) is kept; elsewhere than glibc it does nothing.
/// </summary>
public static partial class NativeHeapSettings
{
    /// <summary>glibc's ceiling for <c>M_MMAP_THRESHOLD</c> on 64-bit systems.</summary>
    public const int MmapThresholdBytes = 32 << 20;

    /// <summary>Freed heap memory kept before any is returned to the kernel.</summary>
    public const int TrimThresholdBytes = 1 << 30;

    private const int MTrimThreshold = -1;
    private const int MMmapThreshold = -3;

    /// <summary>Applies the settings; returns what was set, for the log ("" when nothing was).</summary>
    public static string KeepFreedMemory()
    {
        if (!OperatingSystem.IsLinux()) return "";
        var set = new List<string>();
        try
        {
            if (string.IsNullOrEmpty(Environment.GetEnvironmentVariable("MALLOC_MMAP_THRESHOLD_")) && mallopt(MMmapThreshold, MmapThresholdBytes) == 1)
                set.Add($"mmap threshold {MmapThresholdBytes >> 20} MiB");
            if (string.IsNullOrEmpty(Environment.GetEnvironmentVariable("MALLOC_TRIM_THRESHOLD_")) && mallopt(MTrimThreshold, TrimThresholdBytes) == 1)
                set.Add($"trim threshold {TrimThresholdBytes >> 20} MiB");
        }
        catch (EntryPointNotFoundException)
        {
            // Not glibc: its allocator has its own policy.
        }
        catch (DllNotFoundException)
        {
        }

        return string.Join(", ", set);
    }

    [LibraryImport("libc")]
    private static partial int mallopt(int param, int value);
}
