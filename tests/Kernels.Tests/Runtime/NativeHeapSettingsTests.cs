using Llama4Cluster.Kernels.Runtime;

namespace Llama4Cluster.Kernels.Tests.Runtime;

public sealed class NativeHeapSettingsTests
{
    /// <summary>On glibc (these machines, the CI machine, the container images' Debian base) both settings take: the
    /// P/Invoke finds <c>mallopt</c> and glibc accepts the values. A user's MALLOC_* variable would keep glibc's own.</summary>
    [Fact]
    public void GlibcTakesBothSettings()
    {
        if (!OperatingSystem.IsLinux() || !File.Exists("/usr/lib/x86_64-linux-gnu/libc.so.6") && !File.Exists("/lib/x86_64-linux-gnu/libc.so.6"))
            return;
        string expected = string.Join(", ", new[]
        {
            string.IsNullOrEmpty(Environment.GetEnvironmentVariable("MALLOC_MMAP_THRESHOLD_")) ? "mmap threshold 32 MiB" : null,
            string.IsNullOrEmpty(Environment.GetEnvironmentVariable("MALLOC_TRIM_THRESHOLD_")) ? "trim threshold 1024 MiB" : null,
        }.OfType<string>());
        Assert.Equal(expected, NativeHeapSettings.KeepFreedMemory());
    }
}
