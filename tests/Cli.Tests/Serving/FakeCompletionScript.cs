namespace Llama4Cluster.Cli.Tests.Serving;

/// <summary>What <see cref="FakeCompletionServer"/> streams for one request.</summary>
internal sealed record FakeCompletionScript
{
    /// <summary>Anything but 200 answers with an OpenAI error body and this status.</summary>
    public int Status { get; init; } = 200;

    /// <summary>One token event per entry (an empty string: a token whose text is held back).</summary>
    public IReadOnlyList<string> Texts { get; init; } = ["Hello", ",", " world"];

    /// <summary><c>usage.completion_tokens</c> (may exceed the events: an event may carry several tokens).</summary>
    public int CompletionTokens { get; init; } = 3;

    public bool SendUsage { get; init; } = true;

    /// <summary>An event with empty text and <c>finish_reason: "length"</c> after the tokens (no token).</summary>
    public bool SendFinishEvent { get; init; } = true;

    public bool SendDone { get; init; } = true;

    /// <summary>An in-stream error event after the tokens, ending the stream (no [DONE]).</summary>
    public string? ErrorEvent { get; init; }

    /// <summary>Headers and a keep-alive comment, then nothing until the client goes away.</summary>
    public bool Stall { get; init; }

    public int FirstTokenDelayMs { get; init; }
    public int TokenDelayMs { get; init; }

    /// <summary>Every event written in two flushed halves (a client must join them).</summary>
    public bool SplitEvents { get; init; }
}
