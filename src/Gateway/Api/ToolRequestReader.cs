using System.Text.Json;
using System.Text.RegularExpressions;
using Llama4Cluster.Core.Guidance;
using Llama4Cluster.Core.Tokenization;
using Llama4Cluster.Core.Tools;

namespace Llama4Cluster.Gateway.Api;

/// <summary>
/// Reads the tool fields of a chat request (<c>tools</c>, <c>tool_choice</c>, <c>parallel_tool_calls</c>,
/// <c>chat_template_kwargs.tools_in_user_message</c>) and of its messages (an assistant's <c>tool_calls</c>, a tool
/// message's <c>tool_call_id</c>). Everything that would change the answer and cannot be honoured is a 400 naming it.
/// </summary>
internal static partial class ToolRequestReader
{
    /// <summary>Why <c>strict</c> is refused with <c>tool_choice</c> <c>auto</c>: guided decoding forces a call's shape
    /// only where the answer must be a call (<c>required</c>, a named function: <see cref="ToolCallSchema"/>), not where
    /// the model may also write text.</summary>
    private const string StrictNeedsForcedCall =
        "strict arguments are enforced when the answer must be a call (tool_choice \"required\" or a named function); with \"auto\" the model may write text, so they cannot be";

    /// <exception cref="ApiException">400 naming the first bad field.</exception>
    public static ChatToolRequest Read(RequestFields fields, int maxTools)
    {
        foreach (var legacy in new[] { "functions", "function_call" })
        {
            if (fields.TryGet(legacy, out _))
            {
                throw ApiException.BadRequest(
                    $"{legacy} is OpenAI's deprecated form of function calling and is not supported; send tools and tool_choice.", legacy);
            }
        }

        var (tools, strictPath) = Tools(fields, maxTools);
        var parallel = fields.Bool("parallel_tool_calls") ?? true;
        var choice = Choice(fields, tools);
        if (strictPath is not null && choice.Mode == ToolChoiceMode.Auto)
        {
            throw ApiException.BadRequest($"{strictPath} is true: {StrictNeedsForcedCall}.", strictPath);
        }

        return new ChatToolRequest(tools, choice, parallel, ToolsInUserMessage(fields), CallGuidance(tools, choice, parallel));
    }

    /// <summary>For <c>required</c> or a named function, the JSON schema of the call that guided decoding enforces; a tool
    /// schema the grammar cannot follow is a 400 naming it.</summary>
    private static GuidanceSpec? CallGuidance(List<ToolDefinition> tools, ToolChoice choice, bool parallel)
    {
        if (ToolCallSchema.For(tools, choice, parallel) is not { } schema)
        {
            return null;
        }

        var spec = GuidanceSpec.JsonSchema(schema);
        try
        {
            GrammarCompiler.Validate(spec);
        }
        catch (GuidanceException e)
        {
            throw ApiException.BadRequest($"tool_choice forces a call, but a function's parameters cannot be enforced: {e.Message}", "tools");
        }

        return spec;
    }

    /// <summary>The calls of an assistant message (none when it has no <c>tool_calls</c>); checks a tool message's
    /// <c>tool_call_id</c>.</summary>
    public static IReadOnlyList<ToolCall> MessageToolCalls(RequestFields message, string role, string path)
    {
        if (message.TryGet("tool_call_id", out var id) && id.ValueKind != JsonValueKind.String)
        {
            throw ApiException.WrongType($"{path}.tool_call_id", "a string", id.ValueKind);
        }

        if (!message.TryGet("tool_calls", out var calls))
        {
            return [];
        }

        if (role != ChatTemplate.Assistant)
        {
            throw ApiException.BadRequest($"{path}.tool_calls is only allowed on assistant messages.", $"{path}.tool_calls");
        }

        if (calls.ValueKind != JsonValueKind.Array)
        {
            throw ApiException.WrongType($"{path}.tool_calls", "an array of tool calls", calls.ValueKind);
        }

        var result = new List<ToolCall>(calls.GetArrayLength());
        var j = 0;
        foreach (var call in calls.EnumerateArray())
        {
            result.Add(MessageToolCall(call, $"{path}.tool_calls[{j++}]"));
        }

        return result;
    }

    private static ToolCall MessageToolCall(JsonElement call, string path)
    {
        var fields = Object(call, path, "a tool call {\"id\", \"type\": \"function\", \"function\": {\"name\", \"arguments\"}}");
        FunctionType(fields, path);
        var id = fields.String("id", $"{path}.id") ?? string.Empty;
        var function = Object(Required(fields, "function", path), $"{path}.function", "an object with name and arguments");
        var name = function.String("name", $"{path}.function.name")
            ?? throw ApiException.BadRequest($"{path}.function.name is required.", $"{path}.function.name");
        var param = $"{path}.function.arguments";
        var arguments = Required(function, "arguments", $"{path}.function");
        if (arguments.ValueKind == JsonValueKind.Object)
        {
            return new ToolCall(id, name, PythonJson.Compact(arguments));
        }

        if (arguments.ValueKind != JsonValueKind.String)
        {
            throw ApiException.WrongType(param, "a string holding the arguments as JSON", arguments.ValueKind);
        }

        try
        {
            using var parsed = JsonDocument.Parse(RequestFields.Text(arguments, param));
            return new ToolCall(id, name, PythonJson.Compact(parsed.RootElement));
        }
        catch (JsonException)
        {
            throw ApiException.BadRequest($"{param} must hold the arguments as JSON (such as \"{{}}\"); it does not parse.", param);
        }
    }

    /// <summary>The tools, and the path of the first that asks for <c>strict</c> arguments (null: none).</summary>
    private static (List<ToolDefinition> Tools, string? StrictPath) Tools(RequestFields fields, int maxTools)
    {
        if (!fields.TryGet("tools", out var array))
        {
            return ([], null);
        }

        if (array.ValueKind != JsonValueKind.Array)
        {
            throw ApiException.WrongType("tools", "an array of {\"type\": \"function\", \"function\": {...}} objects", array.ValueKind);
        }

        if (array.GetArrayLength() > maxTools)
        {
            throw ApiException.BadRequest($"tools holds {array.GetArrayLength()} functions; at most {maxTools} are accepted.", "tools");
        }

        var tools = new List<ToolDefinition>(array.GetArrayLength());
        string? strictPath = null;
        var i = 0;
        foreach (var item in array.EnumerateArray())
        {
            var path = $"tools[{i++}]";
            var (tool, strict) = Tool(item, path);
            if (strict)
            {
                strictPath ??= $"{path}.function.strict";
            }

            if (tools.Any(t => t.Name == tool.Name))
            {
                throw ApiException.BadRequest($"tools has two functions named \"{tool.Name}\"; names must be unique.", "tools");
            }

            tools.Add(tool);
        }

        return (tools, strictPath);
    }

    private static (ToolDefinition Tool, bool Strict) Tool(JsonElement item, string path)
    {
        var fields = Object(item, path, "a tool {\"type\": \"function\", \"function\": {\"name\", \"description\", \"parameters\"}}");
        FunctionType(fields, path);
        var function = Object(Required(fields, "function", path), $"{path}.function", "an object with name, description and parameters");
        var name = function.String("name", $"{path}.function.name")
            ?? throw ApiException.BadRequest($"{path}.function.name is required.", $"{path}.function.name");
        if (!FunctionName().IsMatch(name))
        {
            throw ApiException.BadRequest(
                $"{path}.function.name \"{name}\" is not a function name: use 1 to 64 letters, digits, underscores and dashes.",
                $"{path}.function.name");
        }

        var description = function.String("description", $"{path}.function.description");
        string? parameters = null;
        if (function.TryGet("parameters", out var schema))
        {
            parameters = schema.ValueKind == JsonValueKind.Object
                ? schema.GetRawText()
                : throw ApiException.WrongType($"{path}.function.parameters", "a JSON schema object", schema.ValueKind);
        }

        var strict = false;
        if (function.TryGet("strict", out var strictValue))
        {
            strict = strictValue.ValueKind switch
            {
                JsonValueKind.True => true,
                JsonValueKind.False => false,
                _ => throw ApiException.WrongType($"{path}.function.strict", "a boolean", strictValue.ValueKind),
            };
        }

        return (new ToolDefinition(name, description, parameters), strict);
    }

    private static ToolChoice Choice(RequestFields fields, List<ToolDefinition> tools)
    {
        if (!fields.TryGet("tool_choice", out var value))
        {
            return tools.Count > 0 ? ToolChoice.Auto : ToolChoice.None;
        }

        var choice = value.ValueKind switch
        {
            JsonValueKind.String => RequestFields.Text(value, "tool_choice") switch
            {
                "none" => ToolChoice.None,
                "auto" => ToolChoice.Auto,
                "required" => ToolChoice.Required,
                var other => throw ApiException.BadRequest(
                    $"tool_choice \"{other}\" is not a choice: use \"none\", \"auto\", \"required\" or {{\"type\": \"function\", \"function\": {{\"name\": ...}}}}.",
                    "tool_choice"),
            },
            JsonValueKind.Object => NamedChoice(value),
            _ => throw ApiException.WrongType("tool_choice", "\"none\", \"auto\", \"required\" or a named function object", value.ValueKind),
        };
        if (choice.Mode == ToolChoiceMode.None)
        {
            return choice; // as vLLM: "none" needs no tools
        }

        if (tools.Count == 0)
        {
            throw ApiException.BadRequest("tool_choice needs tools: send the functions the model may call in tools.", "tool_choice");
        }

        if (choice.Mode == ToolChoiceMode.Named && tools.All(t => t.Name != choice.FunctionName))
        {
            throw ApiException.BadRequest(
                $"tool_choice names the function \"{choice.FunctionName}\", which is not in tools.", "tool_choice");
        }

        return choice;
    }

    private static ToolChoice NamedChoice(JsonElement value)
    {
        var fields = new RequestFields(value);
        FunctionType(fields, "tool_choice");
        var function = Object(Required(fields, "function", "tool_choice"), "tool_choice.function", "an object with the function's name");
        var name = function.String("name", "tool_choice.function.name")
            ?? throw ApiException.BadRequest("tool_choice.function.name is required.", "tool_choice.function.name");
        return name.Length > 0 ? ToolChoice.Named(name) : throw ApiException.BadRequest("tool_choice.function.name is empty.", "tool_choice");
    }

    private static bool ToolsInUserMessage(RequestFields fields)
    {
        if (!fields.TryGet("chat_template_kwargs", out var kwargs))
        {
            return true;
        }

        var template = Object(kwargs, "chat_template_kwargs", "an object");
        if (template.TryGet("custom_tools", out _))
        {
            throw ApiException.BadRequest("chat_template_kwargs.custom_tools is not supported; send the functions in tools.", "chat_template_kwargs");
        }

        if (!template.TryGet("tools_in_user_message", out var inUser))
        {
            return true;
        }

        return inUser.ValueKind switch
        {
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            _ => throw ApiException.WrongType("chat_template_kwargs.tools_in_user_message", "a boolean", inUser.ValueKind),
        };
    }

    /// <summary>A <c>type</c>, where present, must be <c>function</c> (the only kind of tool there is here).</summary>
    private static void FunctionType(RequestFields fields, string path)
    {
        if (fields.String("type", $"{path}.type") is { } type && type != "function")
        {
            throw ApiException.BadRequest($"{path}.type \"{type}\" is not supported: only \"function\" tools are.", $"{path}.type");
        }
    }

    private static JsonElement Required(RequestFields fields, string name, string path) =>
        fields.TryGet(name, out var value) ? value : throw ApiException.BadRequest($"{path}.{name} is required.", $"{path}.{name}");

    private static RequestFields Object(JsonElement value, string path, string expected) =>
        value.ValueKind == JsonValueKind.Object ? new RequestFields(value) : throw ApiException.WrongType(path, expected, value.ValueKind);

    /// <summary>OpenAI's rule for function names.</summary>
    [GeneratedRegex("^[A-Za-z0-9_-]{1,64}$")]
    private static partial Regex FunctionName();
}
