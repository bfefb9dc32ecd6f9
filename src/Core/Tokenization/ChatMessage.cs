namespace Llama4Cluster.Core.Tokenization;

/// <summary>One chat message. Roles: system, user, assistant, ipython (tool results; "tool" is accepted as ipython).</summary>
public sealed record ChatMessage(string Role, string Content);
