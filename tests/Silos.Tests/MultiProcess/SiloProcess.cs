using Llama4Cluster.Cluster.Processes;
using Llama4Cluster.Tests.Shared;

namespace Llama4Cluster.Silos.Tests.MultiProcess;

/// <summary>One <c>Llama4Cluster.Silos</c> process (the built silo host), its output kept for failure messages; killed on dispose.</summary>
public sealed class SiloProcess : IDisposable
{
    private readonly ChildProcess _process;

    private SiloProcess(ChildProcess process) => _process = process;

    public string Output => _process.Output;

    public bool HasExited => _process.HasExited;

    /// <summary>The silo host built beside this test assembly: src/Silos/bin/{Configuration}/{tfm}/.</summary>
    public static string HostAssembly()
    {
        var bin = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
        string tfm = bin.Name, configuration = bin.Parent!.Name;
        var root = bin.Parent!.Parent!.Parent!.Parent!.Parent!.FullName; // tests/Silos.Tests/bin/{cfg}/{tfm}
        string path = Path.Combine(root, "src", "Silos", "bin", configuration, tfm, "Llama4Cluster.Silos.dll");
        if (!File.Exists(path)) throw new FileNotFoundException($"the silo host is not built at {path}", path);
        return path;
    }

    public static SiloProcess Start(IEnumerable<string> args) =>
        new(ChildProcess.Start("silo", "dotnet", [HostAssembly(), .. args]));

    public void Dispose() => _process.Dispose();
}
