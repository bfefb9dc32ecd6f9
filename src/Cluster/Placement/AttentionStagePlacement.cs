namespace Llama4Cluster.Cluster.Placement;

/// <summary>
/// One pipeline stage of an attention rank in a plan: the layers <see cref="FirstLayer"/> … <see cref="FirstLayer"/> +
/// <see cref="LayerCount"/> − 1 (the runtime's <c>LayerRange.Split</c>), on ONE device of one silo, holding those layers'
/// non-expert weights (<see cref="WeightBytes"/>, embeddings on stage 0, final norm and lm_head on the last) and their
/// share of the rank's KV budget (<see cref="KvBytes"/>). Stage 0 is the rank's <c>AttentionGrain</c>, stage s ≥ 1 the
/// <c>AttentionStageGrain</c> keyed <c>attention/{rank}/{s}</c>.
/// </summary>
[GenerateSerializer, Immutable, Alias("l4c.AttentionStagePlacement")]
public sealed record AttentionStagePlacement(
    [property: Id(0)] int Stage,
    [property: Id(1)] string Silo,
    [property: Id(2)] string Device,
    [property: Id(3)] int FirstLayer,
    [property: Id(4)] int LayerCount,
    [property: Id(5)] long WeightBytes,
    [property: Id(6)] long KvBytes)
{
    public StageLayers Layers => new(FirstLayer, LayerCount);
}
