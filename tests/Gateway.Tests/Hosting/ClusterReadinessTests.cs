using Llama4Cluster.Contracts.Experts;
using Llama4Cluster.Core.Tests.Scheduling;
using Llama4Cluster.Gateway.Hosting;
using Llama4Cluster.Gateway.Scheduling;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace Llama4Cluster.Gateway.Tests.Hosting;

/// <summary>
/// The readiness state machine (loading → ready | failed; after start ready ⇄ unavailable) and the checks that drive it
/// after start, over a scripted probe.
/// </summary>
public sealed class ClusterReadinessTests
{
    private static readonly ExpertShardKey[] Shards = [new(1, 0), new(1, 1), new(3, 0), new(3, 1)];
    private static readonly DateTimeOffset T0 = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    [Fact]
    public void StartUpEndsReadyOrFailedAndChecksBeforeStartAreIgnored()
    {
        var readiness = new ClusterReadiness(2, Shards);
        Assert.Equal(ReadinessSnapshot.Loading, readiness.Snapshot().Status);
        Assert.False(readiness.Checked(Result(T0)));
        Assert.Equal((ReadinessSnapshot.Loading, false, false), (readiness.Snapshot().Status, readiness.IsReady, readiness.HasStarted));

        readiness.Ready();
        Assert.Equal((ReadinessSnapshot.Ready, true, true), (readiness.Snapshot().Status, readiness.IsReady, readiness.HasStarted));
        Assert.True(readiness.WhenStarted.IsCompletedSuccessfully);

        var failed = new ClusterReadiness(1, Shards);
        failed.Failed("model.safetensors: truncated");
        failed.Ready();
        Assert.Equal((ReadinessSnapshot.Failed, "model.safetensors: truncated"), (failed.Snapshot().Status, failed.Snapshot().Detail));
        Assert.False(failed.HasStarted);
    }

    [Fact]
    public void AfterStartChecksMoveBetweenReadyAndUnavailableNamingWhatIsMissing()
    {
        var readiness = new ClusterReadiness(2, Shards);
        readiness.Ready();

        Assert.True(readiness.Checked(Result(T0, ranks: [1], shards: [new(3, 1)])));
        var down = readiness.Snapshot();
        Assert.Equal(ReadinessSnapshot.Unavailable, down.Status);
        Assert.False(readiness.IsReady);
        Assert.True(readiness.HasStarted);
        Assert.Equal(new[] { "attention rank 1", "expert shard 3/1" }, down.Missing);
        Assert.Equal((1, 2, 3, 4), (down.AttentionRanksLoaded, down.AttentionRanks, down.ExpertShardsLoaded, down.ExpertShards));
        Assert.Equal("not answering: attention rank 1: gone; expert shard 3/1: gone", down.Detail);
        Assert.Equal(T0, down.CheckedAt);

        // The same outcome again is no change; an older result than the last is ignored.
        Assert.False(readiness.Checked(Result(T0.AddSeconds(1), ranks: [1], shards: [new(3, 1)])));
        Assert.False(readiness.Checked(Result(T0.AddSeconds(-5))));
        Assert.Equal(ReadinessSnapshot.Unavailable, readiness.Snapshot().Status);

        Assert.True(readiness.Checked(Result(T0.AddSeconds(2))));
        var up = readiness.Snapshot();
        Assert.Equal((ReadinessSnapshot.Ready, 2, 4, (string?)null), (up.Status, up.AttentionRanksLoaded, up.ExpertShardsLoaded, up.Detail));
        Assert.Empty(up.Missing);
        Assert.True(readiness.IsReady);
    }

    [Fact]
    public void ManyMissingAreAllNamedAndTheFirstThreeExplained()
    {
        var readiness = new ClusterReadiness(2, Shards);
        readiness.Ready();
        readiness.Checked(Result(T0, ranks: [0, 1], shards: Shards));

        var snapshot = readiness.Snapshot();
        Assert.Equal(6, snapshot.Missing.Count);
        Assert.EndsWith("expert shard 1/0: gone; and 3 more", snapshot.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ACheckNamesARankThatHangsAndAShardThatFailsThenRecovers()
    {
        var probe = new ScriptedClusterProbe();
        var (readiness, check) = Started(probe, Settings());
        probe.Hang(0);
        probe.Fail(new(3, 1), new OrleansException("wrapped", new InvalidOperationException("shard not loaded")));

        var result = await check.CheckAsync();

        Assert.Equal("no answer within 0.2 s", result.MissingRanks[0]);
        Assert.Equal("InvalidOperationException: shard not loaded", result.MissingShards[new(3, 1)]);
        Assert.Equal((ReadinessSnapshot.Unavailable, 1), (readiness.Snapshot().Status, readiness.Snapshot().AttentionRanksLoaded));

        probe.Heal();
        Assert.True((await check.CheckAsync()).AllAnswered);
        Assert.True(readiness.IsReady);
    }

    [Fact]
    public async Task ARankThatAnsweredAStepRecentlyIsBusyNotMissing()
    {
        var time = new ManualTimeProvider();
        var activity = new RankActivity(2, time);
        var probe = new ScriptedClusterProbe();
        var (readiness, check) = Started(probe, Settings(), activity, time);
        probe.Hang(1);

        activity.Succeeded(1);
        time.Advance(TimeSpan.FromSeconds(4));
        Assert.True((await check.CheckAsync()).AllAnswered);
        Assert.True(readiness.IsReady);

        time.Advance(TimeSpan.FromSeconds(2));
        Assert.Equal(new[] { 1 }, (await check.CheckAsync()).MissingRanks.Keys);
        Assert.False(readiness.IsReady);
    }

    [Fact]
    public async Task ChecksAskedForTogetherRunOnceAndReadyChecksOnlyWhenStale()
    {
        var time = new ManualTimeProvider();
        var probe = new ScriptedClusterProbe();
        var (readiness, check) = Started(probe, Settings(), time: time);
        int perCheck = 2 + Shards.Length;

        probe.Gate = new TaskCompletionSource();
        var together = Task.WhenAll(check.CheckAsync(), check.CheckAsync(), check.EnsureFreshAsync());
        probe.Gate.SetResult();
        await together;
        probe.Gate = null;
        Assert.Equal(perCheck, probe.Asks);

        time.Advance(TimeSpan.FromSeconds(5));
        await check.EnsureFreshAsync();
        Assert.Equal(perCheck, probe.Asks);

        time.Advance(TimeSpan.FromSeconds(1.5));
        await check.EnsureFreshAsync();
        Assert.Equal(2 * perCheck, probe.Asks);
        Assert.Equal(time.GetUtcNow(), readiness.LastCheck);

        // Before start-up ends, /ready never checks: the warm-up owns the state.
        var loading = new ClusterReadiness(2, Shards);
        await new ClusterHealthCheck(probe, loading, Settings(), NullLogger<ClusterHealthCheck>.Instance, time: time).EnsureFreshAsync();
        Assert.Equal(2 * perCheck, probe.Asks);
    }

    private static IOptions<ReadinessOptions> Settings() => Options.Create(new ReadinessOptions
    {
        Timeout = TimeSpan.FromMilliseconds(200), BusyGrace = TimeSpan.FromSeconds(5), StaleAfter = TimeSpan.FromSeconds(6),
    });

    private static (ClusterReadiness Readiness, ClusterHealthCheck Check) Started(
        IClusterProbe probe, IOptions<ReadinessOptions> options, RankActivity? activity = null, TimeProvider? time = null)
    {
        var readiness = new ClusterReadiness(2, Shards);
        readiness.Ready();
        return (readiness, new ClusterHealthCheck(probe, readiness, options, NullLogger<ClusterHealthCheck>.Instance, activity, time));
    }

    private static ClusterCheckResult Result(DateTimeOffset at, int[]? ranks = null, ExpertShardKey[]? shards = null) => new(
        (ranks ?? []).ToDictionary(r => r, _ => "gone"), (shards ?? []).ToDictionary(k => k, _ => "gone"), at);
}
