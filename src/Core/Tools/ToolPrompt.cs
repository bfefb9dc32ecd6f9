using System.Text;
using System.Text.Json;

namespace Llama4Cluster.Core.Tools;

/// <summary>
/// The text the Llama 4 chat template (as Hugging Face ships it with the checkpoint) writes for tools: the instructions
/// before the function list (its user-message and system-message variants, verbatim — including the missing space
/// before "Do not use variables."), each function as <c>tojson(indent=4)</c>, and an earlier call as
/// <c>{"name": "f", "parameters": {…}}</c>.
/// </summary>
public static class ToolPrompt
{
    private const string Format =
        "Respond in the format {\"name\": function name, \"parameters\": dictionary of argument name and its value}." +
        "Do not use variables.\n\n";

    /// <summary>What precedes the function list in the first user message.</summary>
    public const string UserInstructions =
        "Given the following functions, please respond with a JSON for a function call " +
        "with its proper arguments that best answers the given prompt.\n\n" + Format;

    /// <summary>What precedes the function list in the system message (<c>tools_in_user_message</c> false).</summary>
    public const string SystemInstructions =
        "You have access to the following functions. To call a function, please respond with JSON for a function call." + Format;

    /// <summary>The first line of the system message whenever tools are given.</summary>
    public const string Environment = "Environment: ipython\n";

    /// <summary>The instructions, then each function and a blank line.</summary>
    public static string FunctionList(string instructions, IReadOnlyList<ToolDefinition> tools)
    {
        ArgumentNullException.ThrowIfNull(tools);
        var text = new StringBuilder(instructions);
        foreach (var tool in tools)
        {
            text.Append(ToolJson(tool)).Append("\n\n");
        }

        return text.ToString();
    }

    /// <summary>One function as the template shows it: the OpenAI tool object
    /// <c>{"type": "function", "function": {"name", "description", "parameters"}}</c> (absent fields left out), with
    /// <c>tojson(indent=4)</c>.</summary>
    public static string ToolJson(ToolDefinition tool)
    {
        ArgumentNullException.ThrowIfNull(tool);
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteString("type", "function");
            json.WriteStartObject("function");
            json.WriteString("name", tool.Name);
            if (tool.Description is not null)
            {
                json.WriteString("description", tool.Description);
            }

            if (tool.ParametersJson is not null)
            {
                json.WritePropertyName("parameters");
                json.WriteRawValue(tool.ParametersJson);
            }

            json.WriteEndObject();
            json.WriteEndObject();
        }

        using var document = JsonDocument.Parse(buffer.ToArray());
        return PythonJson.Indented(document.RootElement, 4);
    }

    /// <summary>An earlier call as the template writes it after the assistant's content.</summary>
    public static string CallText(ToolCall call)
    {
        ArgumentNullException.ThrowIfNull(call);
        return "{\"name\": \"" + call.Name + "\", \"parameters\": " + call.ArgumentsJson + "}";
    }
}
