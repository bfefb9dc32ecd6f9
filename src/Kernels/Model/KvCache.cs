using Llama4Cluster.Core.Config;
using TorchSharp;

namespace Llama4Cluster.Kernels.Model;

/// <summary>
/// The KV cache of one sequence: one <see cref="LayerKvCache"/> per layer, and the number of
/// tokens processed so far (the absolute position of the next token).
/// </summary>
public sealed class KvCache : IDisposable
{
    private readonly LayerKvCache[] _layers;

    public KvCache(Llama4TextConfig config, torch.ScalarType dtype, torch.Device device)
    {
        _layers = new LayerKvCache[config.NumHiddenLayers];
        for (int i = 0; i < _layers.Length; i++)
        {
            int? chunk = config.IsRopeLayer(i) ? config.AttentionChunkSize : null;
            _layers[i] = new LayerKvCache(chunk, config.NumKeyValueHeads, config.HeadDim, dtype, device);
        }
    }

    /// <summary>Tokens processed so far: the absolute position of the next token.</summary>
    public int Length { get; private set; }

    public LayerKvCache Layer(int index) => _layers[index];

    public int LayerCount => _layers.Length;

    public long AllocatedBytes => _layers.Sum(l => l.AllocatedBytes);

    /// <summary>Marks n tokens processed and drops chunked-layer entries no later query can see.</summary>
    public void Advance(int n)
    {
        Length += n;
        foreach (var layer in _layers) layer.Trim(Length);
    }

    public void Dispose()
    {
        foreach (var layer in _layers) layer.Dispose();
    }
}
