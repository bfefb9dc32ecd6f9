namespace Llama4Cluster.Cli.Serving;

/// <summary>
/// The gateway's TTFT overhead: pairs of requests, one through the gateway and one to the engine directly, strictly one
/// at a time (the gateway idle while the engine is called), each on a fresh random prompt of the same length. The order
/// inside a pair alternates so that a drift over the run (caches warming, another process waking) falls on both sides.
/// </summary>
public static class GatewayOverheadBenchmark
{
    public static async Task<GatewayOverheadResult> RunAsync(CompletionStreamClient client, string model, IFirstTokenProbe direct,
        RandomPromptSource prompts, int promptTokens, int pairs, int maxTokens, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(client);
        ArgumentNullException.ThrowIfNull(direct);
        ArgumentNullException.ThrowIfNull(prompts);
        if (pairs < 1) throw new ArgumentOutOfRangeException(nameof(pairs), pairs, "at least one pair");
        // Untimed: the first direct call resolves grain references and JITs the client path (the gateway's warm-up
        // request ran before the load levels).
        await DirectAsync(direct, prompts.Next(promptTokens), maxTokens, client.RequestTimeout, cancellationToken);
        var gateway = new List<double>(pairs);
        var engine = new List<double>(pairs);
        int failures = 0;
        string? firstError = null;
        for (int i = 0; i < pairs; i++)
        {
            var viaGateway = prompts.Next(promptTokens);
            var viaEngine = prompts.Next(promptTokens);
            if (i % 2 == 1) engine.Add(await DirectAsync(direct, viaEngine, maxTokens, client.RequestTimeout, cancellationToken));
            var m = await client.StreamCompletionAsync(model, viaGateway, maxTokens, cancellationToken);
            if (m.Ok)
            {
                gateway.Add(m.TtftSeconds);
            }
            else
            {
                failures++;
                firstError ??= m.Error;
            }
            if (i % 2 == 0) engine.Add(await DirectAsync(direct, viaEngine, maxTokens, client.RequestTimeout, cancellationToken));
        }
        return new GatewayOverheadResult
        {
            GatewayTtftSeconds = gateway,
            DirectTtftSeconds = engine,
            MaxTokens = maxTokens,
            GatewayFailures = failures,
            FirstGatewayError = firstError,
        };
    }

    /// <summary>One direct call, bounded like a gateway request.</summary>
    /// <exception cref="TimeoutException">The engine took longer than <paramref name="timeout"/>.</exception>
    private static async Task<double> DirectAsync(IFirstTokenProbe direct, IReadOnlyList<int> prompt, int maxTokens, TimeSpan timeout,
        CancellationToken cancellationToken)
    {
        using var bounded = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        bounded.CancelAfter(timeout);
        try
        {
            return await direct.FirstTokenSecondsAsync(prompt, maxTokens, bounded.Token);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new TimeoutException($"the direct engine call took longer than {timeout.TotalSeconds.ToString("0.###", System.Globalization.CultureInfo.InvariantCulture)} s");
        }
    }
}
