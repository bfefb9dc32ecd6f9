namespace Llama4Cluster.Gateway.Tests.Hosting;

/// <summary>Where the tests find what the gateway build produced: the gateway's and the silo host's output folders.</summary>
internal static class GatewayBuild
{
    /// <summary>src/Gateway/bin/{Configuration}/{tfm}/ of the same configuration as this test assembly.</summary>
    public static string OutputDirectory
    {
        get
        {
            var bin = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
            string tfm = bin.Name, configuration = bin.Parent!.Name;
            string root = bin.Parent!.Parent!.Parent!.Parent!.Parent!.FullName; // tests/Gateway.Tests/bin/{cfg}/{tfm}
            return Path.Combine(root, "src", "Gateway", "bin", configuration, tfm);
        }
    }

    /// <summary>The silo host (for silo processes): src/Silos/bin/{Configuration}/{tfm}/Llama4Cluster.Silos.dll.</summary>
    public static string SiloHost
    {
        get
        {
            var output = new DirectoryInfo(OutputDirectory);
            string root = output.Parent!.Parent!.Parent!.Parent!.Parent!.FullName;
            string path = Path.Combine(root, "src", "Silos", "bin", output.Parent!.Name, output.Name, "Llama4Cluster.Silos.dll");
            if (!File.Exists(path)) throw new FileNotFoundException($"the silo host is not built at {path}: build src/Silos", path);
            return path;
        }
    }

    /// <summary>The gateway host (for a gateway process).</summary>
    public static string GatewayHost
    {
        get
        {
            string path = Path.Combine(OutputDirectory, "Llama4Cluster.Gateway.dll");
            if (!File.Exists(path)) throw new FileNotFoundException($"the gateway is not built at {path}: build src/Gateway", path);
            return path;
        }
    }
}
