using Llama4Cluster.Core.Scheduling;

namespace Llama4Cluster.Core.Tests.Scheduling;

/// <summary>One step as a rank of <see cref="FakeStepBackend"/> received it.</summary>
internal sealed record StepCall(int Rank, RankStep Request);
