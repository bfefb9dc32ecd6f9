namespace Llama4Cluster.Gateway.Api;

/// <summary>One prompt of a request: its token ids and, for <c>echo</c>, the text to repeat before the completion.</summary>
internal sealed record PlannedPrompt(IReadOnlyList<int> TokenIds, string? EchoText = null);
