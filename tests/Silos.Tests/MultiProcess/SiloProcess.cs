using System.Collections.Concurrent;
using System.Diagnostics;

namespace Llama4Cluster.Silos.Tests.MultiProcess;

/// <summary>One <c>Llama4Cluster.Silos</c> process (the built silo host), its output kept for failure messages; killed on dispose.</summary>
public sealed class SiloProcess : IDisposable
{
    private readonly Process _process;
    private readonly ConcurrentQueue<string> _output = new();

    private SiloProcess(Process process)
    {
        _process = process;
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) _output.Enqueue(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) _output.Enqueue(e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    public string Output => string.Join('\n', _output);

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

    public static SiloProcess Start(IEnumerable<string> args)
    {
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        info.ArgumentList.Add(HostAssembly());
        foreach (var a in args) info.ArgumentList.Add(a);
        info.Environment["DOTNET_gcServer"] = "0";
        return new SiloProcess(Process.Start(info)!);
    }

    public void Dispose()
    {
        try
        {
            if (!_process.HasExited) _process.Kill(entireProcessTree: true);
            _process.WaitForExit(10000);
        }
        finally
        {
            _process.Dispose();
        }
    }
}
