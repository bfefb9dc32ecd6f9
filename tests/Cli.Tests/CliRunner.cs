using System.Diagnostics;
using System.Reflection;

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
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add(Dll);
        foreach (var a in args) psi.ArgumentList.Add(a);
        // Test processes may run beside each other on two cores: keep torch to one thread each.
        if (args.Length > 0 && args[0] is "logits" or "generate")
        {
            psi.ArgumentList.Add("--threads");
            psi.ArgumentList.Add("1");
        }
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(TimeSpan.FromMinutes(3)))
        {
            p.Kill(entireProcessTree: true);
            throw new TimeoutException($"llama4 {string.Join(' ', args)} did not finish in 3 minutes");
        }
        return new Result(p.ExitCode, stdout.Result, stderr.Result);
    }
}
