using System.Collections.Concurrent;
using Llama4Cluster.Contracts.Experts;
using Llama4Cluster.Gateway.Hosting;

namespace Llama4Cluster.Gateway.Tests.Hosting;

/// <summary>
/// An <see cref="IClusterProbe"/> whose ranks and shards the test can make hang or fail, passing every other ask to
/// <paramref name="inner"/> (the real grains) or answering at once without one. Counts the asks.
/// </summary>
internal sealed class ScriptedClusterProbe(IClusterProbe? inner = null) : IClusterProbe
{
    private readonly ConcurrentDictionary<string, Func<Task>> _scripts = new(StringComparer.Ordinal);
    private int _asks;

    public int Asks => Volatile.Read(ref _asks);

    /// <summary>When set, every ask without a script waits for it before answering.</summary>
    public TaskCompletionSource? Gate { get; set; }

    /// <summary>The rank's asks never finish (a dead silo before Orleans notices, or a grain stuck behind a step).</summary>
    public void Hang(int rank) => _scripts[RankKey(rank)] = () => new TaskCompletionSource().Task;

    public void Fail(ExpertShardKey key, Exception error) => _scripts[ShardKey(key)] = () => Task.FromException(error);

    /// <summary>Every rank and shard answers again.</summary>
    public void Heal() => _scripts.Clear();

    public Task ProbeRankAsync(int rank) => Ask(RankKey(rank), () => inner?.ProbeRankAsync(rank) ?? Task.CompletedTask);

    public Task ProbeShardAsync(ExpertShardKey key) => Ask(ShardKey(key), () => inner?.ProbeShardAsync(key) ?? Task.CompletedTask);

    private Task Ask(string key, Func<Task> otherwise)
    {
        Interlocked.Increment(ref _asks);
        if (_scripts.TryGetValue(key, out var script)) return script();
        return Gate is { } gate ? gate.Task.ContinueWith(_ => otherwise(), TaskScheduler.Default).Unwrap() : otherwise();
    }

    private static string RankKey(int rank) => $"rank {rank}";

    private static string ShardKey(ExpertShardKey key) => $"shard {key.Format()}";
}
