using Llama4Cluster.Cluster.Hosting;
using Llama4Cluster.Cluster.Placement;
using Llama4Cluster.Contracts.Attention;
using Llama4Cluster.Core.Scheduling;

namespace Llama4Cluster.Cluster.Stepping;

/// <summary>
/// <see cref="IStepBackend"/> over the cluster: rank <c>r</c> is the <see cref="IAttentionGrain"/> with key <c>r</c> (the
/// placement plan's rank numbering), reached through any <see cref="IGrainFactory"/> (an Orleans client, or a silo's own).
/// Steps travel in their wire form (<see cref="StepMessages"/>). The silo of every pipeline stage of each rank is watched
/// (<see cref="SiloConnectionWatch"/>, opened in the background from the rank's <see cref="IAttentionGrain.DescribeAsync"/> and,
/// on a staged rank, its later stages' <see cref="IAttentionStageGrain.DescribeAsync"/>; opened anew whenever a step's answer
/// names another silo — the rank was re-activated there — or a watch was lost):
/// when any of those silos dies, the step in flight fails at once with <see cref="AttentionRankLostException"/> instead of waiting
/// for Orleans' response timeout, and the scheduler moves the rank's sequences. Because Orleans routes an answer back
/// through the gateway silo its request came in by, the death of any watched silo, or a lost gateway connection
/// (<see cref="ClusterConnectionEvents"/>), ends every step in flight the same way: a healthy rank's sequences are
/// re-prefilled (a rare cost) rather than waiting out the timeout.
/// </summary>
public sealed class ClusterStepBackend : IStepBackend, IDisposable
{
    private static readonly TimeSpan s_describeTimeout = TimeSpan.FromSeconds(5);

    private readonly IGrainFactory _grains;
    private readonly IAttentionGrain?[] _ranks;
    private readonly SiloConnectionWatch[]?[] _watches; // per rank: one watch per pipeline stage, stage 0 first
    private readonly int[] _opening;
    private CancellationTokenSource _epoch = new(); // cancelled (and replaced) when any silo is lost

    public ClusterStepBackend(IGrainFactory grains, int attentionRanks, ClusterConnectionEvents? events = null)
    {
        ArgumentNullException.ThrowIfNull(grains);
        ArgumentOutOfRangeException.ThrowIfLessThan(attentionRanks, 1);
        // References are made on first use: an Orleans client resolves the grain type from the cluster's manifest, which
        // it has only once connected (a gateway's client may still be waiting for the silos when this is built).
        _grains = grains;
        _ranks = new IAttentionGrain?[attentionRanks];
        _watches = new SiloConnectionWatch[]?[attentionRanks];
        _opening = new int[attentionRanks];
        if (events is not null) events.GatewayLost += SiloLost;
    }

    public int Ranks => _ranks.Length;

    public async Task<RankStepResult> StepAsync(int rank, RankStep step, CancellationToken cancellationToken)
    {
        var epoch = Volatile.Read(ref _epoch).Token;
        var call = Rank(rank).StepAsync(StepMessages.ToWire(step), cancellationToken);
        var watches = Volatile.Read(ref _watches[rank]);
        if (watches is null || watches.Any(w => w.Lost.IsCancellationRequested))
        {
            StartWatching(rank);
            watches = null;
        }

        using var lost = CancellationTokenSource.CreateLinkedTokenSource([epoch, .. (watches ?? []).Select(w => w.Lost)]);
        try
        {
            return Answered(rank, await call.WaitAsync(lost.Token));
        }
        catch (OperationCanceledException) when (lost.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            _ = call.ContinueWith(static t => _ = t.Exception, TaskScheduler.Default); // observed: it ends with Orleans' timeout
            int stage = Array.FindIndex(watches ?? [], w => w.Lost.IsCancellationRequested);
            if (stage >= 0)
            {
                var gone = watches![stage];
                throw new AttentionRankLostException(rank, stage == 0
                    ? $"its silo {gone.Silo} ({gone.Endpoint}) is gone (its connection closed during the step)"
                    : $"the silo {gone.Silo} ({gone.Endpoint}) of its pipeline stage {stage} is gone (its connection closed during the step)");
            }
            throw new RankAnswerLostException(rank);
        }
    }

    /// <summary>Ends every step in flight (their answers may be lost with the silo).</summary>
    private void SiloLost() => Interlocked.Exchange(ref _epoch, new CancellationTokenSource()).Cancel();

    public Task ReleaseAsync(int rank, IReadOnlyList<long> sequenceIds) => Rank(rank).ReleaseAsync([.. sequenceIds]);

    /// <summary>The step's result; when the rank answered from a silo other than the watched one (Orleans re-activated it
    /// there), watches that silo from now on.</summary>
    private RankStepResult Answered(int rank, StepResponse response)
    {
        if (response.SiloEndpoint is { } endpoint && Volatile.Read(ref _watches[rank]) is var current
            && (current is null || current.Any(w => w.Lost.IsCancellationRequested) || current[0].Endpoint != endpoint))
        {
            // One stage: the answer says all there is to watch. Staged (or not yet known): describe every stage.
            StartWatching(rank, current is { Length: 1 } ? new AttentionRankInfo(rank, response.Silo ?? "?", "", 0, 0, 0, SiloEndpoint: endpoint) : null);
        }
        return StepMessages.FromWire(response);
    }

    /// <summary>Asks the rank's grain, and on a staged rank each later stage's, to describe itself — Orleans activates one on a
    /// surviving silo when its silo has died (once membership has declared that silo dead), which loads its weights there —
    /// and watches their silos anew.</summary>
    public async Task ProbeAsync(int rank, CancellationToken cancellationToken)
    {
        var info = await Rank(rank).DescribeAsync().WaitAsync(cancellationToken);
        await WatchAsync(rank, info, cancellationToken);
    }

    /// <summary>The grain of <paramref name="rank"/>.</summary>
    public IAttentionGrain Rank(int rank)
    {
        if ((uint)rank >= (uint)_ranks.Length)
            throw new ArgumentOutOfRangeException(nameof(rank), rank, $"the cluster has attention ranks 0 to {_ranks.Length - 1}");
        return _ranks[rank] ??= _grains.GetGrain<IAttentionGrain>(rank);
    }

    public void Dispose()
    {
        for (int r = 0; r < _watches.Length; r++) DisposeAll(Interlocked.Exchange(ref _watches[r], null));
    }

    /// <summary>Opens the rank's watch in the background unless an open is under way; a failure leaves it unwatched
    /// (the next step tries again).</summary>
    private void StartWatching(int rank, AttentionRankInfo? known = null)
    {
        if (Interlocked.Exchange(ref _opening[rank], 1) == 1) return;
        _ = Task.Run(async () =>
        {
            try
            {
                using var timeout = new CancellationTokenSource(s_describeTimeout);
                var info = known ?? await Rank(rank).DescribeAsync().WaitAsync(timeout.Token);
                await WatchAsync(rank, info, timeout.Token);
            }
            catch (Exception)
            {
                // Not reachable now: steps go on unwatched and the next one tries again.
            }
            finally
            {
                Volatile.Write(ref _opening[rank], 0);
            }
        });
    }

    private async Task WatchAsync(int rank, AttentionRankInfo info, CancellationToken cancellationToken)
    {
        if (info.SiloEndpoint is null) return;
        var later = await Task.WhenAll(Enumerable.Range(1, Math.Max(0, info.Stages - 1)).Select(s => _grains
            .GetGrain<IAttentionStageGrain>(PlacementKey.ForAttentionStage(rank, s).ToString()).DescribeAsync().WaitAsync(cancellationToken)));
        AttentionRankInfo[] stages = [info, .. later];
        if (stages.Any(s => s.SiloEndpoint is null)) return;
        var current = Volatile.Read(ref _watches[rank]);
        if (current is not null && current.Length == stages.Length && !current.Any(w => w.Lost.IsCancellationRequested)
            && current.Select(w => w.Endpoint).SequenceEqual(stages.Select(s => s.SiloEndpoint!)))
            return;
        var opened = new List<SiloConnectionWatch>();
        try
        {
            foreach (var stage in stages) opened.Add(await SiloConnectionWatch.OpenAsync(stage.SiloEndpoint!, stage.Silo, cancellationToken));
        }
        catch
        {
            DisposeAll([.. opened]);
            throw;
        }
        foreach (var watch in opened) watch.Lost.Register(SiloLost);
        DisposeAll(Interlocked.Exchange(ref _watches[rank], [.. opened]));
    }

    private static void DisposeAll(SiloConnectionWatch[]? watches)
    {
        foreach (var w in watches ?? []) w.Dispose();
    }
}
