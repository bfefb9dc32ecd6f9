namespace Llama4Cluster.Cli.Tests;

/// <summary>Tiny checkpoints written once per test run by <c>llama4 create-tiny</c>, in several layouts.</summary>
public sealed class TinyModels : IDisposable
{
    public TinyModels()
    {
        Root = Path.Combine(Path.GetTempPath(), "l4c-cli-" + Guid.NewGuid().ToString("N"));
        Scout = Create("scout", "--preset", "tiny-scout", "--seed", "3");
        Maverick = Create("maverick", "--preset", "tiny-maverick", "--seed", "5", "--layout", "causal", "--shards", "3");
    }

    public string Root { get; }
    public string Scout { get; }
    public string Maverick { get; }

    public string Create(string name, params string[] args)
    {
        string dir = Path.Combine(Root, name);
        var r = CliRunner.Run(["create-tiny", "--out", dir, .. args]);
        Assert.True(r.ExitCode == 0, $"create-tiny failed ({r.ExitCode}): {r.Stderr}");
        return dir;
    }

    public void Dispose()
    {
        if (Directory.Exists(Root)) Directory.Delete(Root, recursive: true);
    }
}
