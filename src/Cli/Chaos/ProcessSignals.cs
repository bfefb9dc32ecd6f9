using System.Runtime.InteropServices;

namespace Llama4Cluster.Cli.Chaos;

/// <summary>POSIX signals to one process by id (Linux numbering): what a drill does to the processes it started.</summary>
internal static partial class ProcessSignals
{
    public const int Kill = 9;
    public const int Terminate = 15;
    public const int Continue = 18;
    public const int Stop = 19;

    /// <summary>Sends <paramref name="signal"/> to <paramref name="pid"/>; false when the process is gone.</summary>
    public static bool Send(int pid, int signal)
    {
        if (!OperatingSystem.IsLinux()) throw new PlatformNotSupportedException("llama4 chaos sends Linux signals");
        return kill(pid, signal) == 0;
    }

    public static string Name(int signal) => signal switch
    {
        Kill => "SIGKILL",
        Terminate => "SIGTERM",
        Continue => "SIGCONT",
        Stop => "SIGSTOP",
        _ => "signal " + signal,
    };

    [LibraryImport("libc", SetLastError = true)]
    private static partial int kill(int pid, int signal);
}
