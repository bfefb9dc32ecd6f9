namespace Llama4Cluster.Core.Scheduling;

/// <summary>
/// A prompt plus its max tokens exceeds the model's context (OpenAI's <c>context_length_exceeded</c>, HTTP 400), with
/// vLLM's wording. <see cref="ThrowIfExceeded"/> is the one context-length check: the scheduler applies it to every
/// submission and the gateway to each prompt of a request before anything is queued. An <see cref="ArgumentException"/>,
/// so callers that only know that still answer 400.
/// </summary>
public sealed class ContextLengthExceededException : ArgumentException
{
    private ContextLengthExceededException(string message, string promptName, int promptTokens, int? maxTokens, int maxModelLength)
        : base(message, promptName)
    {
        PromptTokens = promptTokens;
        MaxTokens = maxTokens;
        MaxModelLength = maxModelLength;
    }

    public int PromptTokens { get; }

    /// <summary>The completion bound asked for; null when none was (the prompt alone left no room).</summary>
    public int? MaxTokens { get; }

    public int MaxModelLength { get; }

    /// <summary>
    /// Throws when <paramref name="promptTokens"/> + <paramref name="maxTokens"/> exceed <paramref name="maxModelLength"/>,
    /// or, with no max tokens given, when the prompt leaves no room for one token. <paramref name="promptName"/> is what
    /// the message calls the prompt ("prompt", "messages").
    /// </summary>
    public static void ThrowIfExceeded(int promptTokens, int? maxTokens, int maxModelLength, string promptName = "prompt")
    {
        if (maxTokens is null && promptTokens >= maxModelLength)
        {
            throw new ContextLengthExceededException(
                $"This model's maximum context length is {maxModelLength} tokens. However, your {promptName} resulted in {promptTokens} tokens, " +
                $"which leaves no room for a completion. Please reduce the length of the {promptName}.",
                promptName, promptTokens, maxTokens, maxModelLength);
        }

        if (maxTokens is { } completion && (long)promptTokens + completion > maxModelLength)
        {
            throw new ContextLengthExceededException(
                $"This model's maximum context length is {maxModelLength} tokens. However, you requested {(long)promptTokens + completion} tokens " +
                $"({promptTokens} in the {promptName}, {completion} in the completion). Please reduce the length of the {promptName} or completion.",
                promptName, promptTokens, maxTokens, maxModelLength);
        }
    }
}
