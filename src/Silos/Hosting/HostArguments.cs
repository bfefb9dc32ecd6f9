namespace Llama4Cluster.Silos.Hosting;

/// <summary>The host-builder arguments the silo and gateway processes start their .NET generic host with.</summary>
public static class HostArguments
{
    /// <summary>
    /// Turns off reloading <c>appsettings*.json</c> on change. Reloading watches the content root (the working directory)
    /// with a recursive file-system watcher: started from a large directory, each silo process spent 10–15 % of a core
    /// in its file-watcher thread during a benchmark, on a machine where every core is the model's. The processes take
    /// their settings at start; change them by restarting (Kubernetes rolls pods on a ConfigMap change anyway).
    /// </summary>
    public static readonly IReadOnlyList<string> NoConfigReload = ["--hostBuilder:reloadConfigOnChange=false"];
}
