namespace Llama4Cluster.Cluster.Stepping;

/// <summary>The silo hosting an attention rank died during a step (its connection closed): the step's sequences lost
/// their state there and move to another rank.</summary>
public sealed class AttentionRankLostException(int rank, string silo, string endpoint)
    : Exception($"attention rank {rank}: its silo {silo} ({endpoint}) is gone (its connection closed during the step); the rank's sequences move to another rank")
{
    public int Rank { get; } = rank;
}
