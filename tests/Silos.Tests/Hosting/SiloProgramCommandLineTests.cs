using Llama4Cluster.Cluster.Processes;
using Llama4Cluster.Silos.Tests.MultiProcess;

namespace Llama4Cluster.Silos.Tests.Hosting;

/// <summary>The built silo host rejects bad flags before anything starts: one line on stderr, exit code 2.</summary>
public sealed class SiloProgramCommandLineTests
{
    [Theory]
    [InlineData(new[] { "--advertise", "10.0.0.1" }, "error: unknown option --advertise (see --help)")]
    [InlineData(new[] { "--Llama4:DType", "bfloat16" }, "error: unknown option --Llama4:DType (see --help)")]
    [InlineData(new[] { "--model" }, "error: option --model needs a value")]
    [InlineData(new[] { "--data-plane", "udp" }, "error: --data-plane 'udp': use tcp or orleans")]
    public async Task BadFlagsAreOneLineUsageErrors(string[] args, string message)
    {
        var result = await ChildProcess.RunAsync("dotnet", [SiloProcess.HostAssembly(), .. args], TimeSpan.FromSeconds(60));
        Assert.Equal(2, result.ExitCode);
        Assert.Equal(message, result.Stderr.Trim());
    }

    [Fact]
    public async Task HelpPrintsTheUsage()
    {
        var result = await ChildProcess.RunAsync("dotnet", [SiloProcess.HostAssembly(), "--help"], TimeSpan.FromSeconds(60));
        Assert.Equal(0, result.ExitCode);
        Assert.StartsWith("usage: Llama4Cluster.Silos --model DIR", result.Stdout, StringComparison.Ordinal);
    }
}
