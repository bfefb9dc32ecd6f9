using Llama4Cluster.Core.Config;
using TorchSharp;

namespace Llama4Cluster.Kernels.Model;

/// <summary>
/// The KV cache of one sequence on one stage: one <see cref="LayerKvCache"/> per layer of the stage's
/// <see cref="LayerRange"/> (every layer on a one-stage rank), and the number of tokens processed so far (the absolute
/// position of the next token, the same on every stage of a rank).
/// </summary>
public sealed class KvCache : IDisposable
{
    private readonly LayerKvCache[] _layers;
    private readonly int _first;

    /// <param name="layers">The stage's layers; null: all of them.</param>
    public KvCache(Llama4TextConfig config, torch.ScalarType dtype, torch.Device device, LayerRange? layers = null)
    {
        ArgumentNullException.ThrowIfNull(config);
        var range = layers ?? LayerRange.All(config);
        range.Validate(config);
        _first = range.First;
        _layers = new LayerKvCache[range.Count];
        for (int i = 0; i < _layers.Length; i++)
        {
            int? chunk = config.IsRopeLayer(range.First + i) ? config.AttentionChunkSize : null;
            _layers[i] = new LayerKvCache(chunk, config.NumKeyValueHeads, config.HeadDim, dtype, device);
        }
    }

    /// <summary>Tokens processed so far: the absolute position of the next token.</summary>
    public int Length { get; private set; }

    /// <summary>The cache of model layer <paramref name="index"/> (an absolute layer number, inside the stage's range).</summary>
    public LayerKvCache Layer(int index) => _layers[index - _first];

    public int LayerCount => _layers.Length;

    public long AllocatedBytes => _layers.Sum(l => l.AllocatedBytes);

    /// <summary>
    /// Called by <see cref="Advance"/> with the previous length, once <see cref="Length"/> has moved and before the
    /// chunked layers drop what no later query can see: the moment every row just fed is still live (a sequence's
    /// <see cref="SequencePrefix"/> copies completed blocks into the prefix cache here).
    /// </summary>
    public Action<KvCache, int>? Advanced { get; set; }

    /// <summary>Marks n tokens processed and drops chunked-layer entries no later query can see.</summary>
    public void Advance(int n)
    {
        int before = Length;
        Length += n;
        Advanced?.Invoke(this, before);
        foreach (var layer in _layers) layer.Trim(Length);
    }

    /// <summary>A fresh copy <c>[layers, 2, count, KV, hd]</c> (per layer k then v) of the live rows at
    /// <paramref name="position"/>…; the caller owns it (detached from every scope).</summary>
    public torch.Tensor CopyRows(int position, int count)
    {
        using var scope = torch.NewDisposeScope();
        var parts = new List<torch.Tensor>(2 * _layers.Length);
        foreach (var layer in _layers)
        {
            var (k, v) = layer.Rows(position, count);
            parts.Add(k);
            parts.Add(v);
        }

        var rows = torch.stack(parts);
        return rows.view(_layers.Length, 2, count, rows.shape[2], rows.shape[3]).DetachFromDisposeScope();
    }

    /// <summary>
    /// Appends rows <paramref name="offset"/>… (<paramref name="count"/> of them) of a block laid out as
    /// <see cref="CopyRows"/> makes them, as the keys and values of positions <see cref="Length"/>…, and advances by
    /// <paramref name="count"/>: what computing those tokens would have left in the cache.
    /// </summary>
    public void AppendRows(torch.Tensor rows, int offset, int count)
    {
        ArgumentNullException.ThrowIfNull(rows);
        using (torch.NewDisposeScope())
        {
            for (int i = 0; i < _layers.Length; i++)
                _layers[i].Append(rows[i, 0].narrow(0, offset, count), rows[i, 1].narrow(0, offset, count));
        }

        Advance(count);
    }

    public void Dispose()
    {
        foreach (var layer in _layers) layer.Dispose();
    }
}
