using Llama4Cluster.Gateway.Model;
using Llama4Cluster.Gateway.Hosting;

namespace Llama4Cluster.Gateway.Tests.Hosting;

/// <summary>What the gateway reads of a checkpoint into <see cref="ServedModel"/>.</summary>
public sealed class ServedModelLoaderTests : IDisposable
{
    private readonly string _cache = Path.Combine(Path.GetTempPath(), "l4c-sm-" + Guid.NewGuid().ToString("N")[..12]);

    public void Dispose()
    {
        if (Directory.Exists(_cache)) Directory.Delete(_cache, recursive: true);
    }

    [Fact]
    public void DefaultsComeFromTheCheckpoint()
    {
        string directory = TinyModelCache.Ensure(_cache, TextWriter.Null);
        var model = ServedModelLoader.Load(directory, new GatewayOptions());
        Assert.Equal("tiny-scout", model.Id);
        Assert.Equal(directory, model.Directory);
        Assert.Equal(TinyModelCache.DemoContextLength, model.MaxModelLength);
        // The config's EOS (end_of_text here) and the tokenizer's stop tokens (end_of_text, eom, eot), once each.
        Assert.Equal(model.Tokenizer.StopTokenIds.Order(), model.EosTokenIds);
        Assert.Contains(model.Config.EosTokenIds[0], model.EosTokenIds);
    }

    [Fact]
    public void NameAndLengthCanBeChosenWithinTheModelsLimit()
    {
        string directory = TinyModelCache.Ensure(_cache, TextWriter.Null);
        var named = ServedModelLoader.Load(directory, new GatewayOptions { ServedModelName = "scout-mini", MaxModelLength = 100 });
        Assert.Equal(("scout-mini", 100), (named.Id, named.MaxModelLength));
        var capped = ServedModelLoader.Load(directory, new GatewayOptions { MaxModelLength = 100_000 });
        Assert.Equal(TinyModelCache.DemoContextLength, capped.MaxModelLength);
    }
}
