namespace Llama4Cluster.Kernels.Runtime;

/// <summary>
/// The process-wide native settings every executable that may load libtorch applies first thing, before any torch call
/// (libgomp and glibc read them once, at load or start): <see cref="OpenMpSettings.PreferPassiveWaiting"/> and
/// <see cref="NativeHeapSettings.KeepFreedMemory"/>. One call, so an entry point cannot take one and miss the other.
/// </summary>
public static class NativeRuntimeSettings
{
    public static void ApplyBeforeTorch()
    {
        OpenMpSettings.PreferPassiveWaiting();
        NativeHeapSettings.KeepFreedMemory();
    }
}
