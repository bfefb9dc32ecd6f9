namespace Llama4Cluster.Core.Scheduling;

/// <summary>
/// Sequences that ended since the last step, per rank, waiting to be released there (their KV caches and samplers
/// dropped). Sent beside the next step, one call per rank (held while the rank is down); a failed release is logged and never fails the caller: a rank
/// that cannot release is failing or gone, and its state with it. Owned by the scheduler's step loop.
/// </summary>
internal sealed class PendingReleases
{
    private readonly List<long>[] _ids;

    public PendingReleases(int ranks)
    {
        _ids = new List<long>[ranks];
        for (int r = 0; r < ranks; r++) _ids[r] = new List<long>();
    }

    public void Add(int rank, long sequenceId) => _ids[rank].Add(sequenceId);

    /// <summary>Starts the queued releases of the ranks that are up (<paramref name="isUp"/>; the others stay queued) and
    /// empties their queues; <paramref name="onFailure"/> gets (error, rank, count).</summary>
    public List<Task> Start(IStepBackend backend, Func<int, bool> isUp, Action<Exception, int, int> onFailure)
    {
        var tasks = new List<Task>();
        for (int r = 0; r < _ids.Length; r++)
        {
            if (_ids[r].Count == 0 || !isUp(r)) continue;
            tasks.Add(ReleaseQuietlyAsync(backend, r, [.. _ids[r]], onFailure));
            _ids[r].Clear();
        }

        return tasks;
    }

    private static async Task ReleaseQuietlyAsync(IStepBackend backend, int rank, long[] ids, Action<Exception, int, int> onFailure)
    {
        try
        {
            await backend.ReleaseAsync(rank, ids);
        }
        catch (Exception e)
        {
            onFailure(e, rank, ids.Length);
        }
    }
}
