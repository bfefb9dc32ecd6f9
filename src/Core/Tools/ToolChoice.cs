namespace Llama4Cluster.Core.Tools;

/// <summary>A request's <c>tool_choice</c>: a mode and, for <see cref="ToolChoiceMode.Named"/>, the function.</summary>
public sealed record ToolChoice(ToolChoiceMode Mode, string? FunctionName = null)
{
    public static ToolChoice Auto { get; } = new(ToolChoiceMode.Auto);

    public static ToolChoice None { get; } = new(ToolChoiceMode.None);

    public static ToolChoice Required { get; } = new(ToolChoiceMode.Required);

    public static ToolChoice Named(string functionName)
    {
        ArgumentException.ThrowIfNullOrEmpty(functionName);
        return new(ToolChoiceMode.Named, functionName);
    }
}
