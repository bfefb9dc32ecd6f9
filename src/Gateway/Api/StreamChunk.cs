namespace Llama4Cluster.Gateway.Api;

/// <summary>
/// One chunk a choice streams: content <paramref name="Text"/>; or, with <paramref name="Call"/>, a tool-call delta —
/// the call's opening (id, type, name) when <paramref name="ArgumentPiece"/> is null, else a piece of its arguments;
/// <paramref name="Final"/> chunks carry the finish reason.
/// </summary>
internal readonly record struct StreamChunk(string Text, bool Final, AnswerToolCall? Call = null, string? ArgumentPiece = null);
