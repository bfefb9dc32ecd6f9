using System.Collections.Immutable;
using Llama4Cluster.Contracts.Tensors;

namespace Llama4Cluster.Contracts.Experts;

/// <summary>
/// One attention rank's rows for one expert shard of one MoE layer, for one step: <see cref="Inputs"/>
/// <c>[P, D]</c> of scaled inputs <c>g·x</c>, grouped by expert in ascending order as
/// (<see cref="ExpertIds"/>, <see cref="Counts"/>) say. <see cref="Rank"/>, <see cref="Step"/> and <see cref="Pass"/>
/// identify the sender, the step and the forward pass within it (a step whose tokens exceed the message budget runs
/// as several passes) for logs, metrics and message-discipline checks.
/// </summary>
[GenerateSerializer, Immutable, Alias("l4c.ExpertShardRequest")]
public sealed record ExpertShardRequest(
    [property: Id(0)] int Layer,
    [property: Id(1)] int Shard,
    [property: Id(2)] int Rank,
    [property: Id(3)] long Step,
    [property: Id(4)] ImmutableArray<int> ExpertIds,
    [property: Id(5)] ImmutableArray<int> Counts,
    [property: Id(6)] TensorPayload Inputs,
    [property: Id(7)] int Pass = 0,
    [property: Id(8)] int Replica = 0)
{
    /// <summary>The expert id that names a layer's shared expert in <see cref="ExpertIds"/>: a request to the shared-expert shard
    /// (shard index = the layer's routed shard count) carries <c>[SharedExpert]</c> with every token's unscaled row.</summary>
    public const int SharedExpert = -1;

    /// <summary>The shard grain the request is for.</summary>
    public ExpertShardKey Key => new(Layer, Shard, Replica);
}
