namespace Llama4Cluster.Core.Guidance;

/// <summary>What a <see cref="GuidanceSpec"/> constrains the output to.</summary>
public enum GuidanceKind
{
    /// <summary>A JSON value valid against a JSON schema (<see cref="GuidanceSpec.Text"/>).</summary>
    JsonSchema,

    /// <summary>Any JSON object (OpenAI's <c>response_format: {"type": "json_object"}</c>).</summary>
    JsonObject,

    /// <summary>Text that a regular expression (<see cref="GuidanceSpec.Text"/>) matches whole.</summary>
    Regex,

    /// <summary>Exactly one of <see cref="GuidanceSpec.Choices"/>.</summary>
    Choice,
}
