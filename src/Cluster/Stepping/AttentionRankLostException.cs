using Llama4Cluster.Core.Scheduling;

namespace Llama4Cluster.Cluster.Stepping;

/// <summary>The silo hosting a step's attention rank died during the step (its connection closed): the rank's state there
/// is gone, and the step's sequences move to another rank.</summary>
public sealed class AttentionRankLostException(int rank, string reason)
    : Exception($"attention rank {rank}: {reason}; the rank's sequences of this step move to another rank")
{
    public int Rank { get; } = rank;
}

/// <summary>Another silo of the cluster was lost during the step, and the step's answer may have been routed back through
/// it (Orleans returns an answer by the gateway its request came in by): the answer will not come, but the rank lives.</summary>
public sealed class RankAnswerLostException(int rank)
    : StepAnswerLostException($"attention rank {rank}: a silo of the cluster was lost during the step, and the answer may have been routed through it; the step's sequences are re-prefilled")
{
    public int Rank { get; } = rank;
}
