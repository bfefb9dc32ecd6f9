using System.Reflection;
using Llama4Cluster.Cluster.Processes;

namespace Llama4Cluster.Cli.Tests;

/// <summary>Runs <c>dotnet llama4.dll ...</c> and captures stdout, stderr and the exit code.</summary>
internal static class CliRunner
{
    private static readonly string Dll = typeof(CliRunner).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
        .Single(a => a.Key == "Llama4Cli").Value!;

    public sealed record Result(int ExitCode, string Stdout, string Stderr);

    public static Result Run(params string[] args)
    {
        Assert.True(File.Exists(Dll), $"the CLI is not built at {Dll}");
        // Test processes may run beside each other on two cores: keep torch to one thread each.
        // Right after the command name, so a test's last argument stays last (an option given without its value).
        string[] threads = args.Length > 0 && args[0] is "logits" or "generate" ? ["--threads", "1"] : [];
        string[] line = args.Length == 0 ? [Dll] : [Dll, args[0], .. threads, .. args[1..]];
        var result = ChildProcess.RunAsync("dotnet", line, TimeSpan.FromMinutes(3)).GetAwaiter().GetResult();
        return new Result(result.ExitCode, result.Stdout, result.Stderr);
    }
}
