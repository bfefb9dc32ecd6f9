using System.Collections.Immutable;

namespace Llama4Cluster.Contracts.Attention;

/// <summary>How a new sequence samples: the vLLM-style parameters of Core's <c>SamplingParams</c>, and its stop ids.</summary>
[GenerateSerializer, Immutable, Alias("l4c.SequenceStart")]
public sealed record SequenceStart
{
    [Id(0)] public float Temperature { get; init; }
    [Id(1)] public float TopP { get; init; } = 1f;
    [Id(2)] public int TopK { get; init; }
    [Id(3)] public float MinP { get; init; }
    [Id(4)] public long? Seed { get; init; }
    [Id(5)] public float RepetitionPenalty { get; init; } = 1f;
    [Id(6)] public float PresencePenalty { get; init; }
    [Id(7)] public float FrequencyPenalty { get; init; }
    [Id(8)] public ImmutableArray<int> StopTokenIds { get; init; } = [];
    [Id(9)] public bool IgnoreEos { get; init; }
    /// <summary>Null: no logprobs; N: the chosen token's logprob and the N most likely.</summary>
    [Id(10)] public int? TopLogprobs { get; init; }
    /// <summary>End-of-sequence ids (the model's and the tokenizer's stop tokens).</summary>
    [Id(11)] public ImmutableArray<int> EosTokenIds { get; init; } = [];

    /// <summary>The sequence's token limit (the caller ends it there; carried so the rank holds the whole parameter set).</summary>
    [Id(12)] public int MaxTokens { get; init; } = 16;

    /// <summary>0 for a new sequence; on a re-prefill after a failover, how many of the tokens fed before the first sample
    /// are generated tokens already emitted (the sampler resumes after them).</summary>
    [Id(13)] public int GeneratedTokens { get; init; }

    /// <summary>Structured output: null (none), or Core's <c>GuidanceKind</c> by name (<c>JsonSchema</c>, <c>JsonObject</c>,
    /// <c>Regex</c>, <c>Choice</c>); the rank compiles it and its sampler enforces it.</summary>
    [Id(14)] public string? GuidanceKind { get; init; }

    /// <summary>The JSON schema or the regex of the guidance; empty otherwise.</summary>
    [Id(15)] public string GuidanceText { get; init; } = "";

    /// <summary>The choices of a choice guidance; empty otherwise.</summary>
    [Id(16)] public ImmutableArray<string> GuidanceChoices { get; init; } = [];

    /// <summary>The prompt's images in prompt order (empty: none); their features fill its <c>&lt;|patch|&gt;</c> positions.</summary>
    [Id(17)] public ImmutableArray<ImageInput> Images { get; init; } = [];
}
