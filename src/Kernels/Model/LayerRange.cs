using Llama4Cluster.Core.Config;

namespace Llama4Cluster.Kernels.Model;

/// <summary>
/// A pipeline stage's contiguous layers <c>First … First + Count − 1</c> of a rank. The first stage (<see cref="First"/> 0)
/// holds the embeddings; the stage that ends at the last layer holds the final norm and lm_head and samples.
/// </summary>
public readonly record struct LayerRange(int First, int Count)
{
    /// <summary>One past the last layer.</summary>
    public int End => First + Count;

    /// <summary>Every layer of <paramref name="config"/>: a one-stage rank.</summary>
    public static LayerRange All(Llama4TextConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        return new LayerRange(0, config.NumHiddenLayers);
    }

    public bool Contains(int layer) => layer >= First && layer < End;

    /// <summary>Whether this is the first stage (it embeds token ids).</summary>
    public bool HoldsEmbeddings => First == 0;

    /// <summary>Whether this is the last stage of <paramref name="config"/> (it holds the head and samples).</summary>
    public bool HoldsHead(Llama4TextConfig config) => End == config.NumHiddenLayers;

    /// <summary>Throws unless this range is a non-empty part of <paramref name="config"/>'s layers.</summary>
    public void Validate(Llama4TextConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        if (First < 0 || Count < 1 || End > config.NumHiddenLayers)
            throw new ArgumentException($"stage layers {this} are not a non-empty range of the model's {config.NumHiddenLayers} layers (0..{config.NumHiddenLayers - 1})");
    }

    /// <summary>
    /// <paramref name="stages"/> contiguous ranges covering <paramref name="layers"/> layers, as even as they can be (the
    /// earlier stages take the one extra layer).
    /// </summary>
    public static IReadOnlyList<LayerRange> Split(int layers, int stages)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(stages, 1);
        if (stages > layers) throw new ArgumentException($"{stages} stages cannot split {layers} layers: each stage needs at least one layer");
        var ranges = new LayerRange[stages];
        int first = 0;
        for (int s = 0; s < stages; s++)
        {
            int count = layers / stages + (s < layers % stages ? 1 : 0);
            ranges[s] = new LayerRange(first, count);
            first += count;
        }

        return ranges;
    }

    public override string ToString() => Count == 1 ? $"layer {First}" : $"layers {First}..{End - 1}";
}
