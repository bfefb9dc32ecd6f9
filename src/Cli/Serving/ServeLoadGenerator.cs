using System.Diagnostics;

namespace Llama4Cluster.Cli.Serving;

/// <summary>
/// Closed-loop load like vLLM <c>bench serve --max-concurrency C</c> with an infinite request rate: C workers each send
/// the next unsent request as soon as their previous one ends, so C requests are in flight until fewer than C remain.
/// </summary>
public static class ServeLoadGenerator
{
    /// <summary>Sends every prompt (in order of their index) with at most <paramref name="concurrency"/> in flight.</summary>
    public static async Task<ServeLevelResult> RunLevelAsync(CompletionStreamClient client, string model, int concurrency,
        IReadOnlyList<IReadOnlyList<int>> prompts, int maxTokens, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(client);
        ArgumentNullException.ThrowIfNull(prompts);
        if (concurrency < 1) throw new ArgumentOutOfRangeException(nameof(concurrency), concurrency, "concurrency is at least 1");
        var results = new CompletionMeasurement[prompts.Count];
        int next = -1;
        long start = Stopwatch.GetTimestamp();
        async Task WorkerAsync()
        {
            for (int i = Interlocked.Increment(ref next); i < prompts.Count; i = Interlocked.Increment(ref next))
                results[i] = await client.StreamCompletionAsync(model, prompts[i], maxTokens, cancellationToken);
        }
        await Task.WhenAll(Enumerable.Range(0, Math.Min(concurrency, prompts.Count)).Select(_ => Task.Run(WorkerAsync, cancellationToken)));
        return new ServeLevelResult(concurrency, results, Stopwatch.GetElapsedTime(start).TotalSeconds);
    }
}
