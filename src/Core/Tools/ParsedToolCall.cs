namespace Llama4Cluster.Core.Tools;

/// <summary>
/// One function call found in model output: the function's name and its arguments as a JSON object in pieces (one per
/// argument, see <see cref="PythonJson.ObjectPieces"/>), which is how a stream sends them.
/// </summary>
public sealed record ParsedToolCall(string Name, IReadOnlyList<string> ArgumentPieces)
{
    /// <summary>The arguments as one JSON object string (OpenAI's <c>function.arguments</c>).</summary>
    public string ArgumentsJson => string.Concat(ArgumentPieces);
}
