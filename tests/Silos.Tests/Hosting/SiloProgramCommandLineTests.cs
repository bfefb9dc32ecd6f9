using Llama4Cluster.Cluster.Processes;
using Llama4Cluster.Silos.Tests.MultiProcess;

namespace Llama4Cluster.Silos.Tests.Hosting;

/// <summary>The built silo host rejects bad flags before anything starts: one line on stderr, exit code 2.</summary>
public sealed class SiloProgramCommandLineTests
{
    [Theory]
    [InlineData(new[] { "--advertize", "10.0.0.1" }, "error: unknown option --advertize (see --help)")]
    [InlineData(new[] { "--advertise", "127.0.0.2" }, "error: --advertise and --listen need --redis: without it the silo is a single-silo localhost cluster")]
    [InlineData(new[] { "--redis", "127.0.0.1:1", "--listen", "any" },
        "error: --listen 'any': not an IP address (use 0.0.0.0 or :: for every interface, or an address of this host)")]
    [InlineData(new[] { "--redis", "127.0.0.1:1", "--advertise", "0.0.0.0" },
        "error: --advertise 0.0.0.0: advertise an address other hosts can reach this silo by, not a wildcard (to bind every interface, pass --listen 0.0.0.0 or --listen ::)")]
    [InlineData(new[] { "--redis", "127.0.0.1:1", "--advertise-unchecked", "yes" }, "error: --advertise-unchecked 'yes': use true or false")]
    [InlineData(new[] { "--Llama4:DType", "bfloat16" }, "error: unknown option --Llama4:DType (see --help)")]
    [InlineData(new[] { "--model" }, "error: option --model needs a value")]
    [InlineData(new[] { "--data-plane", "udp" }, "error: --data-plane 'udp': use tcp or orleans")]
    [InlineData(new[] { "--device", "plan" }, "error: --device plan puts each grain on the device its placement plan names: give the plan with --plan FILE")]
    [InlineData(new[] { "--shared-experts", "experts" }, "error: --shared-experts 'experts': use rank or shards")]
    [InlineData(new[] { "--http-port", "http" }, "error: --http-port 'http': use a port number from 0 to 65535")]
    [InlineData(new[] { "--dashboard", "70000" }, "error: --dashboard '70000': use a port number from 0 to 65535")]
    public async Task BadFlagsAreOneLineUsageErrors(string[] args, string message)
    {
        var result = await ChildProcess.RunAsync("dotnet", [SiloProcess.HostAssembly(), .. args], TimeSpan.FromSeconds(60));
        Assert.Equal(2, result.ExitCode);
        Assert.Equal(message, result.Stderr.Trim());
    }

    /// <summary>An address no peer would reach this silo by stops it at once (no model is even read), naming the address and
    /// this host's own addresses; from the flag, and from Kubernetes' <c>POD_IP</c> alike.</summary>
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task AnAdvertisedAddressThatIsNotThisHostsStopsTheSiloWithExitCode2(bool flag)
    {
        string[] advertise = flag ? ["--advertise", "10.255.255.1"] : [];
        var env = flag ? null : new Dictionary<string, string> { ["POD_IP"] = "10.255.255.1" };
        var result = await ChildProcess.RunAsync("dotnet",
            [SiloProcess.HostAssembly(), "--model", "/nonexistent", "--redis", "127.0.0.1:1", .. advertise], TimeSpan.FromSeconds(60), env);
        Assert.Equal(2, result.ExitCode);
        Assert.StartsWith("error: advertised address 10.255.255.1 is not an address of this host (local addresses: ", result.Stderr.Trim(), StringComparison.Ordinal);
        Assert.Contains("127.0.0.1", result.Stderr, StringComparison.Ordinal);
        Assert.Contains("--advertise-unchecked true", result.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task HelpPrintsTheUsage()
    {
        var result = await ChildProcess.RunAsync("dotnet", [SiloProcess.HostAssembly(), "--help"], TimeSpan.FromSeconds(60));
        Assert.Equal(0, result.ExitCode);
        Assert.StartsWith("usage: Llama4Cluster.Silos --model DIR", result.Stdout, StringComparison.Ordinal);
        Assert.Contains("[--advertise HOST] [--listen ADDRESS]", result.Stdout, StringComparison.Ordinal);
        Assert.Contains("[--http-port P] [--dashboard P]", result.Stdout, StringComparison.Ordinal);
    }
}
