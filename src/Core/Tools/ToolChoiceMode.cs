namespace Llama4Cluster.Core.Tools;

/// <summary>OpenAI's <c>tool_choice</c>.</summary>
public enum ToolChoiceMode
{
    /// <summary>The model decides; calls in its answer are parsed.</summary>
    Auto,

    /// <summary>No calls: the answer is content as written (the tools are still in the prompt, as vLLM does by default).</summary>
    None,

    /// <summary>At least one call, to any of the tools.</summary>
    Required,

    /// <summary>A call to one named function.</summary>
    Named,
}
