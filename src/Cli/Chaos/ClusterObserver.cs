using System.Diagnostics;
using Llama4Cluster.Cli.Chaos.Report;

namespace Llama4Cluster.Cli.Chaos;

/// <summary>Samples the gateway's <c>/ready</c> and <c>/metrics</c> every 100 ms while a round runs: what the fault timing reads.</summary>
internal sealed class ClusterObserver : IAsyncDisposable
{
    private static readonly TimeSpan Period = TimeSpan.FromMilliseconds(100);
    private static readonly TimeSpan ProbeTimeout = TimeSpan.FromSeconds(3);
    private readonly List<ClusterSample> _samples = [];
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;

    private ClusterObserver(ChaosStreamClient client) => _loop = Task.Run(() => LoopAsync(client, _stop.Token));

    public static ClusterObserver Start(ChaosStreamClient client) => new(client);

    /// <summary>Stops sampling and returns every sample, oldest first.</summary>
    public async Task<IReadOnlyList<ClusterSample>> StopAsync()
    {
        await _stop.CancelAsync();
        try
        {
            await _loop;
        }
        catch (OperationCanceledException)
        {
            // Stopped.
        }
        lock (_samples) return [.. _samples];
    }

    /// <summary>Waits until the latest sample answers ready and is newer than <paramref name="after"/>; false at the deadline.</summary>
    public async Task<bool> WaitReadyAsync(long after, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline)
        {
            lock (_samples)
            {
                if (_samples.Count > 0 && _samples[^1] is { Ready: true } last && last.Timestamp > after) return true;
            }
            await Task.Delay(Period, cancellationToken);
        }
        return false;
    }

    private async Task LoopAsync(ChaosStreamClient client, CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            var ready = await client.GetAsync("ready", ProbeTimeout, cancellationToken);
            long at = Stopwatch.GetTimestamp();
            var metrics = ready is null ? null : await client.GetAsync("metrics", ProbeTimeout, cancellationToken);
            var sample = ClusterSample.From(at, ready?.Status, metrics is { Status: 200 } m ? m.Body : null);
            lock (_samples) _samples.Add(sample);
            await Task.Delay(Period, cancellationToken);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        _stop.Dispose();
    }
}
