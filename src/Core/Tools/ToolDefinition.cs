namespace Llama4Cluster.Core.Tools;

/// <summary>A function the model may call (an OpenAI <c>tools[]</c> entry of type <c>function</c>).</summary>
/// <param name="Name">The function's name.</param>
/// <param name="Description">What it does, or null.</param>
/// <param name="ParametersJson">Its parameters' JSON schema as the client wrote it (key order kept: the prompt shows it),
/// or null.</param>
public sealed record ToolDefinition(string Name, string? Description = null, string? ParametersJson = null);
