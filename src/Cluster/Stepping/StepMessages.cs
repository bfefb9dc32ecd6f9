using System.Collections.Immutable;
using System.Runtime.InteropServices;
using Llama4Cluster.Contracts.Attention;
using Llama4Cluster.Contracts.Tensors;
using Llama4Cluster.Core.Guidance;
using Llama4Cluster.Core.Sampling;
using Llama4Cluster.Core.Scheduling;
using Llama4Cluster.Core.Vision;

namespace Llama4Cluster.Cluster.Stepping;

/// <summary>
/// The one mapping between the engine's step protocol (<see cref="RankStep"/>, <see cref="RankStepResult"/>, Core) and
/// its wire form (<see cref="StepRequest"/>, <see cref="StepResponse"/>, Contracts), both ways: the client side
/// (<see cref="ClusterStepBackend"/>) and the attention grain use the same functions, so a sampling parameter cannot be
/// carried on one side and dropped on the other (a round-trip test covers every field).
/// </summary>
public static class StepMessages
{
    public static StepRequest ToWire(RankStep step)
    {
        ArgumentNullException.ThrowIfNull(step);
        return new StepRequest(step.Step, [.. step.Sequences.Select(ToWire)]);
    }

    public static RankStep FromWire(StepRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (request.Sequences.IsDefault) throw new ArgumentException("a step needs at least one sequence");
        return new RankStep(request.Step, [.. request.Sequences.Select(FromWire)]);
    }

    public static StepResponse ToWire(RankStepResult result)
    {
        ArgumentNullException.ThrowIfNull(result);
        TensorPayload? logits = null;
        if (result.Logits is { } rows)
        {
            int vocab = result.LogitRows == 0 ? 0 : rows.Length / result.LogitRows;
            logits = new TensorPayload(WireDType.Float32, [result.LogitRows, vocab], MemoryMarshal.AsBytes(rows.AsSpan()).ToArray());
        }

        var failures = result.Failures is { Count: > 0 } f
            ? [.. f.Select(x => new SequenceFailureResult(x.SequenceId, x.Error))]
            : ImmutableArray<SequenceFailureResult>.Empty;
        var hits = result.CacheHits is { Count: > 0 } h
            ? [.. h.Select(x => new PrefixCacheHitResult(x.SequenceId, x.Tokens))]
            : ImmutableArray<PrefixCacheHitResult>.Empty;
        return new StepResponse([.. result.Samples.Select(ToWire)], logits, failures, CacheHits: hits);
    }

    /// <summary>The result of <paramref name="response"/>; returns the logits payload's pooled buffer.</summary>
    public static RankStepResult FromWire(StepResponse response)
    {
        ArgumentNullException.ThrowIfNull(response);
        var samples = response.Samples.IsDefault ? [] : response.Samples.Select(s => FromWire(s)).ToArray();
        float[]? logits = null;
        int logitRows = 0;
        if (response.Logits is { } payload)
        {
            logits = MemoryMarshal.Cast<byte, float>(payload.Data.Span).ToArray();
            logitRows = (int)payload.Shape[0];
            payload.ReturnBuffer();
        }

        var failures = response.Failures.IsDefaultOrEmpty ? null : response.Failures.Select(f => new SequenceFailure(f.SequenceId, f.Error)).ToArray();
        var hits = response.CacheHits.IsDefaultOrEmpty ? null : response.CacheHits.Select(h => new PrefixCacheHit(h.SequenceId, h.Tokens)).ToArray();
        return new RankStepResult(samples, logits, logitRows, failures, hits);
    }

    public static SequenceStart ToWire(SequenceSettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        var p = settings.Sampling;
        return new SequenceStart
        {
            Temperature = p.Temperature, TopP = p.TopP, TopK = p.TopK, MinP = p.MinP, Seed = p.Seed,
            RepetitionPenalty = p.RepetitionPenalty, PresencePenalty = p.PresencePenalty, FrequencyPenalty = p.FrequencyPenalty,
            StopTokenIds = [.. p.StopTokenIds], IgnoreEos = p.IgnoreEos, TopLogprobs = p.TopLogprobs, MaxTokens = p.MaxTokens,
            EosTokenIds = [.. settings.EosTokenIds], GeneratedTokens = settings.GeneratedTokens,
            GuidanceKind = settings.Guidance?.Kind.ToString(), GuidanceText = settings.Guidance?.Text ?? "",
            GuidanceChoices = settings.Guidance is { } g ? [.. g.Choices] : [],
            Images = settings.Images is { } images ? [.. images.Select(ToWire)] : [],
        };
    }

    private static ImageInput ToWire(ImageTiles image) =>
        new(image.TileSize, image.Rows, image.Columns,
            new TensorPayload(WireDType.Float32, [image.TileCount, 3, image.TileSize, image.TileSize], MemoryMarshal.AsBytes(image.Pixels.AsSpan()).ToArray()));

    private static ImageTiles FromWire(ImageInput image)
    {
        if (image.Pixels is not { DType: WireDType.Float32 } pixels)
            throw new ArgumentException("an image's pixels travel as a float32 tensor");
        var values = MemoryMarshal.Cast<byte, float>(pixels.Data.Span).ToArray();
        pixels.ReturnBuffer();
        return new ImageTiles(image.TileSize, image.Rows, image.Columns, values);
    }

    public static SequenceSettings FromWire(SequenceStart start)
    {
        ArgumentNullException.ThrowIfNull(start);
        var sampling = new SamplingParams
        {
            Temperature = start.Temperature, TopP = start.TopP, TopK = start.TopK, MinP = start.MinP, Seed = start.Seed,
            RepetitionPenalty = start.RepetitionPenalty, PresencePenalty = start.PresencePenalty, FrequencyPenalty = start.FrequencyPenalty,
            StopTokenIds = start.StopTokenIds.IsDefault ? [] : [.. start.StopTokenIds], IgnoreEos = start.IgnoreEos,
            TopLogprobs = start.TopLogprobs, MaxTokens = start.MaxTokens,
        };
        var images = start.Images.IsDefaultOrEmpty ? null : start.Images.Select(FromWire).ToArray();
        return new SequenceSettings(sampling, start.EosTokenIds.IsDefault ? [] : [.. start.EosTokenIds], start.GeneratedTokens, Guidance(start), images);
    }

    private static GuidanceSpec? Guidance(SequenceStart start)
    {
        if (start.GuidanceKind is null) return null;
        if (!Enum.TryParse<GuidanceKind>(start.GuidanceKind, ignoreCase: false, out var kind) || !Enum.IsDefined(kind))
            throw new ArgumentException($"unknown guidance kind '{start.GuidanceKind}'");
        return new GuidanceSpec(kind, start.GuidanceText ?? "", start.GuidanceChoices.IsDefault ? [] : [.. start.GuidanceChoices]);
    }

    private static SequenceStep ToWire(SequenceWork work) =>
        new(work.SequenceId, [.. work.Tokens.Span], work.Start is null ? null : ToWire(work.Start), work.Sample, work.ReturnLogits);

    private static SequenceWork FromWire(SequenceStep step) =>
        new(step.SequenceId, step.Tokens.IsDefault ? ReadOnlyMemory<int>.Empty : step.Tokens.AsMemory(), step.Start is null ? null : FromWire(step.Start),
            step.Sample, step.ReturnLogits);

    private static SampledTokenResult ToWire(SequenceSample sample)
    {
        var t = sample.Token;
        var top = t.TopLogprobs is null ? ImmutableArray<TokenLogprobResult>.Empty : [.. t.TopLogprobs.Select(l => new TokenLogprobResult(l.TokenId, l.Logprob))];
        return new SampledTokenResult(sample.SequenceId, t.TokenId, t.Logprob, top, t.TopLogprobs is not null);
    }

    private static SequenceSample FromWire(SampledTokenResult sample) =>
        new(sample.SequenceId, new SampledToken(sample.TokenId, sample.Logprob,
            sample.HasTopLogprobs ? (sample.TopLogprobs.IsDefault ? [] : sample.TopLogprobs.Select(l => new TokenLogprob(l.TokenId, l.Logprob)).ToArray()) : null));
}
