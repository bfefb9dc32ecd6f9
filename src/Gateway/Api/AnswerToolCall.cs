using Llama4Cluster.Core.Tools;

namespace Llama4Cluster.Gateway.Api;

/// <summary>A call a choice's answer made: its place among the choice's calls (the stream's <c>index</c>), its id and
/// the parsed call.</summary>
internal sealed record AnswerToolCall(int Index, string Id, ParsedToolCall Call)
{
    /// <summary>An OpenAI-style call id: <c>call_</c> and 24 random hex digits.</summary>
    public static string NewId() => "call_" + Guid.NewGuid().ToString("N")[..24];
}
