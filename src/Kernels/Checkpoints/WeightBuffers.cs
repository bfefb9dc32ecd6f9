using System.Runtime.InteropServices;
using Llama4Cluster.Kernels.Cpu;
using TorchSharp;

namespace Llama4Cluster.Kernels.Checkpoints;

/// <summary>
/// The CPU tensors that loading fills with converted weights (transposed experts, fused projections, dtype changes).
/// A large one is advised to use transparent huge pages (<c>madvise(MADV_HUGEPAGE)</c>) before anything touches it:
/// filling fresh memory is otherwise dominated by one page fault per 4 KiB, which on the 2-vCPU VM cost ~14 µs each,
/// about 3.5 s per GB — most of the old 8 s load (docs/PERFORMANCE.md, Loading). With the advice the same fill runs at
/// memory speed. The advice is Linux-only and best-effort: where the kernel has THP off (<c>never</c>) or the call
/// fails, the buffer is an ordinary one. Only these buffers are advised; libtorch's own allocations are unchanged.
/// </summary>
internal static partial class WeightBuffers
{
    /// <summary>Transparent huge pages are 2 MiB on x86-64 and arm64 (4 KiB base pages).</summary>
    private const long HugePage = 2L << 20;

    /// <summary>Buffers below this are not worth a system call.</summary>
    private const long MinAdvisedBytes = 4 * HugePage;

    private const int MadvHugePage = 14;

    private static volatile bool s_unavailable;

    /// <summary>An uninitialised contiguous CPU tensor, advised to use huge pages when large.</summary>
    public static torch.Tensor Empty(long[] shape, torch.ScalarType dtype)
    {
        var t = torch.empty(shape, dtype, torch.CPU);
        long bytes = t.NumberOfElements * t.ElementSize;
        if (bytes >= MinAdvisedBytes && OperatingSystem.IsLinux() && !s_unavailable)
            Advise(TensorData.Pointer(t), bytes);
        return t;
    }

    private static void Advise(nint start, long bytes)
    {
        // Only whole huge pages inside the buffer: its edges may share pages with other allocations.
        long first = ((long)start + HugePage - 1) & ~(HugePage - 1);
        long last = ((long)start + bytes) & ~(HugePage - 1);
        if (last <= first) return;
        try
        {
            _ = madvise((nint)first, (nuint)(last - first), MadvHugePage); // best-effort: EINVAL where THP is compiled out
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            s_unavailable = true; // a libc without madvise under that name: ordinary pages, as before
        }
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial int madvise(nint address, nuint length, int advice);
}
