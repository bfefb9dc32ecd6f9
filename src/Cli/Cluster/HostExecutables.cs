namespace Llama4Cluster.Cli.Cluster;

/// <summary>
/// Where the processes the CLI starts come from: the silo host and the gateway host (both built beside llama4.dll, since
/// the CLI references their projects; <c>LLAMA4_SILO_HOST</c> / <c>LLAMA4_GATEWAY_HOST</c> override), programs on the
/// PATH, and the small shell watchdog that keeps a process that cannot watch its parent (redis-server, the gateway) from
/// outliving this one.
/// </summary>
internal static class HostExecutables
{
    /// <summary>
    /// <c>sh -c WatchdogScript EXE ARGS…</c> runs EXE ARGS, prints <see cref="ChildPidPrefix"/> and its process id, and kills
    /// it when the process named by <c>LLAMA4_PARENT_PID</c> is gone (even after a SIGKILL of the CLI); it exits when EXE does.
    /// </summary>
    public const string WatchdogScript = "\"$0\" \"$@\" & r=$!; echo \"llama4-child-pid $r\"; trap 'kill $r 2>/dev/null' EXIT TERM INT HUP; " +
                                         "while kill -0 $r 2>/dev/null && kill -0 $LLAMA4_PARENT_PID 2>/dev/null; do sleep 1; done";

    /// <summary>The start of the watchdog's line that names the watched process's id.</summary>
    public const string ChildPidPrefix = "llama4-child-pid ";

    /// <summary>The silo host: LLAMA4_SILO_HOST, or the one built next to llama4.dll.</summary>
    public static string SiloHost() => Find("Llama4Cluster.Silos.dll", "LLAMA4_SILO_HOST", "src/Silos");

    /// <summary>The gateway host: LLAMA4_GATEWAY_HOST, or the one built next to llama4.dll.</summary>
    public static string GatewayHost() => Find("Llama4Cluster.Gateway.dll", "LLAMA4_GATEWAY_HOST", "src/Gateway");

    public static string? FindOnPath(string name) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Select(d => Path.Combine(d, name)).FirstOrDefault(File.Exists);

    private static string Find(string dll, string variable, string project)
    {
        var candidates = new List<string>();
        if (Environment.GetEnvironmentVariable(variable) is { Length: > 0 } fromEnv) candidates.Add(fromEnv);
        // The CLI references the project, so the build puts the host (dll, deps, runtimeconfig) beside llama4.dll.
        candidates.Add(Path.Combine(AppContext.BaseDirectory, dll));
        foreach (var c in candidates)
            if (File.Exists(c) && File.Exists(Path.ChangeExtension(c, ".runtimeconfig.json")))
                return c;
        throw new ClusterStartException($"{dll} with its runtimeconfig is not built; looked at: {string.Join(", ", candidates)}. " +
                                        $"Build it with 'dotnet build {project} -c Release' or set {variable}");
    }
}
