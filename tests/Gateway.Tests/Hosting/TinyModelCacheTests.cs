using Llama4Cluster.Gateway.Hosting;
using Llama4Cluster.Core.Config;
using Llama4Cluster.Core.Tokenization;

namespace Llama4Cluster.Gateway.Tests.Hosting;

/// <summary>The tiny demo model's cache: created once, atomically, and reused.</summary>
public sealed class TinyModelCacheTests : IDisposable
{
    private readonly string _cache = Path.Combine(Path.GetTempPath(), "l4c-cache-" + Guid.NewGuid().ToString("N")[..12]);

    public void Dispose()
    {
        if (Directory.Exists(_cache)) Directory.Delete(_cache, recursive: true);
    }

    [Fact]
    public async Task ConcurrentFirstStartsEndWithOneCompleteCheckpoint()
    {
        using var start = new Barrier(4);
        var writers = Enumerable.Range(0, 4).Select(_ => Task.Run(() =>
        {
            start.SignalAndWait();
            return TinyModelCache.Ensure(_cache, TextWriter.Null);
        })).ToArray();
        var paths = await Task.WhenAll(writers);

        string model = Path.GetFullPath(TinyModelCache.ModelDirectory(_cache));
        Assert.All(paths, p => Assert.Equal(model, p));
        Assert.Equal([model], Directory.GetFileSystemEntries(Path.GetDirectoryName(model)!));
        var config = Llama4ConfigReader.Load(model);
        var tokenizer = Llama4Tokenizer.Load(model);
        Assert.Equal(Llama4Presets.TinyScout.NumLocalExperts, config.NumLocalExperts);
        Assert.Contains(tokenizer.EndOfText, config.EosTokenIds);
    }

    [Fact]
    public void ALaterStartReusesTheCheckpointWithoutWriting()
    {
        var first = new StringWriter();
        string model = TinyModelCache.Ensure(_cache, first);
        Assert.Contains("writing tiny-scout: 100%", first.ToString(), StringComparison.Ordinal);
        // One line per decile; the last is the summary with the parameter count, printed once.
        var lines = first.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Single(lines, l => l.Contains(": 100%", StringComparison.Ordinal));
        Assert.Equal(lines.Length, lines.Distinct().Count());
        var written = Directory.GetFiles(model).ToDictionary(f => f, File.GetLastWriteTimeUtc);

        var second = new StringWriter();
        Assert.Equal(model, TinyModelCache.Ensure(_cache, second));
        Assert.Equal("", second.ToString());
        Assert.Equal(written, Directory.GetFiles(model).ToDictionary(f => f, File.GetLastWriteTimeUtc));
    }

    [Fact]
    public void StagingOfAKilledProcessIsRemovedThatOfALiveOneKept()
    {
        string models = Path.GetDirectoryName(TinyModelCache.ModelDirectory(_cache))!;
        string abandoned = Path.Combine(models, ".tiny-scout.2147483646.0123.partial"); // no such process id
        string live = Path.Combine(models, $".tiny-scout.{Environment.ProcessId}.4567.partial");
        Directory.CreateDirectory(abandoned);
        Directory.CreateDirectory(live);

        TinyModelCache.Ensure(_cache, TextWriter.Null);

        Assert.False(Directory.Exists(abandoned));
        Assert.True(Directory.Exists(live));
    }

    [Fact]
    public void AnIncompleteDirectoryIsReportedNotOverwritten()
    {
        string model = TinyModelCache.ModelDirectory(_cache);
        Directory.CreateDirectory(model);
        File.WriteAllText(Path.Combine(model, "config.json"), "{}");
        var e = Assert.Throws<GatewayStartupException>(() => TinyModelCache.Ensure(_cache, TextWriter.Null));
        Assert.Equal(1, e.ExitCode);
        Assert.Contains("is not a complete checkpoint", e.Message, StringComparison.Ordinal);
        Assert.Equal("{}", File.ReadAllText(Path.Combine(model, "config.json")));
    }
}
