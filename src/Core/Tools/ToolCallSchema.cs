using System.Text.Json;
using System.Text.Json.Nodes;

namespace Llama4Cluster.Core.Tools;

/// <summary>
/// The JSON schema an answer must follow for <c>tool_choice</c> <c>required</c> or a named function, for guided decoding
/// to enforce: one call object <c>{"name": const, "parameters": &lt;the tool's schema&gt;}</c> (the JSON call form that
/// <see cref="ToolCallParser"/> reads); for <c>required</c>, <c>anyOf</c> over the tools; and when parallel calls are
/// allowed with <c>required</c>, an array of one or more of them. A named function is always one call, as in vLLM and
/// OpenAI. <c>$defs</c> of the tools' schemas move to the root, so that their <c>#/$defs/…</c> references still resolve.
/// </summary>
public static class ToolCallSchema
{
    /// <summary>The schema, or null when <paramref name="choice"/> leaves the answer free (auto, none).</summary>
    /// <exception cref="ArgumentException">The named function is not among <paramref name="tools"/>; a tool's parameters
    /// are not a JSON object; two tools define the same <c>$defs</c> entry differently.</exception>
    public static string? For(IReadOnlyList<ToolDefinition> tools, ToolChoice choice, bool parallelToolCalls)
    {
        ArgumentNullException.ThrowIfNull(tools);
        ArgumentNullException.ThrowIfNull(choice);
        var defs = new JsonObject();
        JsonObject root;
        switch (choice.Mode)
        {
            case ToolChoiceMode.Named:
                var tool = tools.FirstOrDefault(t => t.Name == choice.FunctionName)
                    ?? throw new ArgumentException($"tool_choice names \"{choice.FunctionName}\", which is not among the tools.", nameof(choice));
                root = Call(tool, defs);
                break;
            case ToolChoiceMode.Required:
                if (tools.Count == 0)
                {
                    throw new ArgumentException("tool_choice \"required\" needs at least one tool.", nameof(tools));
                }

                var calls = tools.Select(t => (JsonNode)Call(t, defs)).ToArray();
                var one = calls.Length == 1 ? (JsonObject)calls[0] : new JsonObject { ["anyOf"] = new JsonArray(calls) };
                root = parallelToolCalls
                    ? new JsonObject { ["type"] = "array", ["minItems"] = 1, ["items"] = one }
                    : one;
                break;
            default:
                return null;
        }

        if (defs.Count > 0)
        {
            root["$defs"] = defs;
        }

        return root.ToJsonString();
    }

    private static JsonObject Call(ToolDefinition tool, JsonObject defs) => new()
    {
        ["type"] = "object",
        ["properties"] = new JsonObject
        {
            ["name"] = new JsonObject { ["const"] = tool.Name },
            ["parameters"] = Parameters(tool, defs),
        },
        ["required"] = new JsonArray("name", "parameters"),
        ["additionalProperties"] = false,
    };

    private static JsonObject Parameters(ToolDefinition tool, JsonObject defs)
    {
        if (tool.ParametersJson is null)
        {
            return new JsonObject { ["type"] = "object", ["properties"] = new JsonObject() };
        }

        if (JsonNode.Parse(tool.ParametersJson) is not JsonObject parameters)
        {
            throw new ArgumentException($"The parameters of function \"{tool.Name}\" are not a JSON schema object.", nameof(tool));
        }

        // OpenAI's arguments are always an object; a schema that does not say so is read as one.
        parameters.TryAdd("type", "object");
        if (parameters["$defs"] is JsonObject own)
        {
            parameters.Remove("$defs");
            foreach (var (name, definition) in own.ToList())
            {
                own.Remove(name);
                if (defs[name] is { } existing && !JsonNode.DeepEquals(existing, definition))
                {
                    throw new ArgumentException(
                        $"Two tools define \"$defs/{name}\" differently; give the definitions distinct names.", nameof(tool));
                }

                defs[name] ??= definition;
            }
        }

        return parameters;
    }
}
