using System.Runtime.InteropServices;

namespace Llama4Cluster.Kernels.Runtime;

/// <summary>
/// libtorch's OpenMP (GNU libgomp) threads spin for a while after every parallel op. Our CPU
/// kernels run on their own worker pool between torch ops, so spinning OpenMP threads steal the
/// cores they need (measured on 2 cores: decode MoE layer 0.23 → 0.33–0.47 of memory bandwidth
/// with passive waiting). libgomp reads <c>OMP_WAIT_POLICY</c> once, when libtorch loads, so
/// executables call it first thing in Main, before any torch call (<see cref="NativeRuntimeSettings.ApplyBeforeTorch"/>).
/// A value the user set is kept.
/// </summary>
public static partial class OpenMpSettings
{
    public const string Variable = "OMP_WAIT_POLICY";

    /// <summary>Sets <c>OMP_WAIT_POLICY=PASSIVE</c> in the native environment unless already set. Returns the value in force.</summary>
    public static string PreferPassiveWaiting()
    {
        string? current = Environment.GetEnvironmentVariable(Variable);
        if (!string.IsNullOrEmpty(current)) return current;
        Environment.SetEnvironmentVariable(Variable, "PASSIVE");
        // .NET keeps its own copy of the environment on Unix; native code (libgomp) reads libc's.
        if (!OperatingSystem.IsWindows()) _ = setenv(Variable, "PASSIVE", 0);
        return "PASSIVE";
    }

    [LibraryImport("libc", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int setenv(string name, string value, int overwrite);
}
