using Llama4Cluster.Core.Sampling;
using Llama4Cluster.Core.Scheduling;

namespace Llama4Cluster.Core.Generation;

/// <summary>
/// The throwaway requests an engine runs before its first real one, so that .NET compiles the step path then rather than
/// inside a client's prompt: <see cref="PromptTokens"/> random ids (never the image patch token) and two greedy decode
/// steps each. The local engine, the CLI's cluster engine and the gateway all warm up with these.
/// </summary>
public static class WarmUpRequests
{
    /// <summary>Prompt tokens of each request: more rows than the CPU kernels' decode limit (32), so the prefill paths run
    /// as well as the decode ones.</summary>
    public const int PromptTokens = 40;

    /// <summary><paramref name="count"/> requests (one per attention rank of a cluster), the same ids every time.</summary>
    /// <param name="count">How many requests.</param>
    /// <param name="vocabularySize">The model's vocabulary; ids are drawn from [3, vocabulary).</param>
    /// <param name="maxPositions">The model's context length: a shorter one shortens the prompt to leave room for the decode steps.</param>
    /// <param name="patchTokenId">The image patch token of a model with a vision tower (never drawn), or null.</param>
    public static GenerationRequest[] Create(int count, int vocabularySize, int maxPositions, int? patchTokenId)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(vocabularySize, 1);
        int length = Math.Clamp(PromptTokens, 1, Math.Max(1, maxPositions - 3));
        var random = new Random(17);
        var sampling = new SamplingParams { Temperature = 0, MaxTokens = 3, IgnoreEos = true };
        return Enumerable.Range(0, count)
            .Select(_ => new GenerationRequest(RandomTokens.Prompt(random, length, Math.Min(3, vocabularySize - 1), vocabularySize, patchTokenId), sampling))
            .ToArray();
    }

    /// <summary>
    /// One warm-up request per rank of <paramref name="backend"/> run to completion through it (<see cref="BatchGeneration"/>),
    /// the results discarded: how a cluster warms up, from the CLI's engine or from the gateway. Returns how many ran.
    /// </summary>
    public static async Task<int> RunAsync(IStepBackend backend, ModelLimits limits, int maxStepTokens, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(backend);
        ArgumentNullException.ThrowIfNull(limits);
        var requests = Create(backend.Ranks, limits.VocabSize, limits.MaxModelLength, limits.Vision?.PatchTokenId);
        await BatchGeneration.RunAsync(backend, limits, maxStepTokens, requests, null, cancellationToken).ConfigureAwait(false);
        return requests.Length;
    }
}
