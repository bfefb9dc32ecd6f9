namespace Llama4Cluster.Core.Scheduling;

/// <summary>
/// A submission's prompt plus its max tokens exceeds the model's context (OpenAI's <c>context_length_exceeded</c>,
/// HTTP 400). An <see cref="ArgumentException"/>, so callers that only know that still answer 400.
/// </summary>
public sealed class ContextLengthExceededException(int promptTokens, int maxTokens, int maxModelLength)
    : ArgumentException(
        $"This model's maximum context length is {maxModelLength} tokens. However, you requested {(long)promptTokens + maxTokens} tokens " +
        $"({promptTokens} in the prompt, {maxTokens} for the completion). Please reduce the prompt or the completion length.",
        "PromptTokens")
{
    public int PromptTokens { get; } = promptTokens;

    public int MaxTokens { get; } = maxTokens;

    public int MaxModelLength { get; } = maxModelLength;
}
