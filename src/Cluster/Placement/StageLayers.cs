using System.Collections.Immutable;
using System.Globalization;

namespace Llama4Cluster.Cluster.Placement;

/// <summary>
/// The layers <c>First … First + Count − 1</c> of one pipeline stage of an attention rank, as the planner cuts them.
/// <see cref="Split"/> is the runtime's cut (<c>Kernels.Model.LayerRange.Split</c>, which the silos load by) restated here
/// because this project may not reference Kernels; a test checks the two agree for every layer and stage count.
/// </summary>
public readonly record struct StageLayers(int First, int Count)
{
    /// <summary>One past the last layer.</summary>
    public int End => First + Count;

    public bool Contains(int layer) => layer >= First && layer < End;

    /// <summary>
    /// <paramref name="stages"/> contiguous ranges covering <paramref name="layers"/> layers, as even as they can be (the
    /// earlier stages take the one extra layer): exactly <c>LayerRange.Split</c>.
    /// </summary>
    public static ImmutableArray<StageLayers> Split(int layers, int stages)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(stages, 1);
        if (stages > layers) throw new ArgumentException($"{stages} stages cannot split {layers} layers: each stage needs at least one layer");
        var ranges = ImmutableArray.CreateBuilder<StageLayers>(stages);
        int first = 0;
        for (int s = 0; s < stages; s++)
        {
            int count = layers / stages + (s < layers % stages ? 1 : 0);
            ranges.Add(new StageLayers(first, count));
            first += count;
        }
        return ranges.MoveToImmutable();
    }

    /// <summary>As <c>LayerRange.ToString</c>: <c>layer 3</c> or <c>layers 0..21</c>.</summary>
    public override string ToString() => Count == 1
        ? string.Create(CultureInfo.InvariantCulture, $"layer {First}")
        : string.Create(CultureInfo.InvariantCulture, $"layers {First}..{End - 1}");
}
