namespace Llama4Cluster.Gateway.Hosting;

/// <summary>
/// How <c>GET /ready</c> keeps up with the cluster once it has been ready (configuration section <c>Gateway:Readiness</c>,
/// environment <c>Gateway__Readiness__*</c>): every attention rank and expert shard is asked to answer every
/// <see cref="Interval"/>, each ask bounded by <see cref="Timeout"/>. So a rank or shard that stops answering turns
/// <c>/ready</c> to 503 within about <see cref="Interval"/> + <see cref="Timeout"/> (a rank within
/// <see cref="BusyGrace"/> + <see cref="Interval"/> + <see cref="Timeout"/> when it had just answered a step).
/// </summary>
public sealed class ReadinessOptions
{
    public const string SectionName = "Gateway:Readiness";

    /// <summary>The pause between the end of one check and the start of the next.</summary>
    public TimeSpan Interval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>How long one rank or shard may take to answer a check before it counts as missing.</summary>
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary><c>GET /ready</c> runs a check itself (and answers with its result) when the last one ended longer ago than this.</summary>
    public TimeSpan StaleAfter { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// A rank grain answers one call at a time, so a check may wait behind a long step: a rank that does not answer in time
    /// but answered a step successfully within this window counts as busy, not missing.
    /// </summary>
    public TimeSpan BusyGrace { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Once every rank and shard has loaded, run one throwaway sequence per rank through the cluster before reporting ready
    /// (<c>WarmUpRequests</c>: 40 prompt tokens, two decode steps), so that the processes compile their step code then and
    /// not inside the first client's request. A warm-up that fails is logged and does not keep the gateway from ready.
    /// </summary>
    public bool WarmUpGeneration { get; set; } = true;
}
