using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Llama4Cluster.Core.Tools;

/// <summary>
/// JSON text as Python's <c>json.dumps(..., ensure_ascii=False)</c> writes it, which is what the Llama 4 chat template's
/// <c>tojson</c> filter produces: compact form with <c>", "</c> and <c>": "</c> separators, or with <c>indent</c> one
/// member per line (separators <c>","</c> and <c>": "</c>). Strings escape only <c>"</c>, <c>\</c> and control
/// characters (lower-case <c>\u00xx</c>); other characters stay as they are. Numbers keep the client's text (Python
/// would re-print a float in its own repr: <c>1e5</c> as <c>100000.0</c>).
/// </summary>
public static class PythonJson
{
    /// <summary>The compact form of <paramref name="value"/>.</summary>
    public static string Compact(JsonElement value)
    {
        var text = new StringBuilder();
        Write(text, value, indent: null, level: 0);
        return text.ToString();
    }

    /// <summary>The form of <c>tojson(indent=<paramref name="indent"/>)</c>.</summary>
    public static string Indented(JsonElement value, int indent)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(indent);
        var text = new StringBuilder();
        Write(text, value, indent, level: 0);
        return text.ToString();
    }

    /// <summary>The compact form of an object, cut after each member: <c>{"a": 1</c>, <c>, "b": 2</c>, <c>}</c> (an empty
    /// object is one piece, <c>{}</c>). Concatenated, the pieces are <see cref="Compact"/>; streamed tool-call arguments
    /// go out in these pieces.</summary>
    /// <exception cref="ArgumentException"><paramref name="value"/> is not an object.</exception>
    public static List<string> ObjectPieces(JsonElement value)
    {
        if (value.ValueKind != JsonValueKind.Object)
        {
            throw new ArgumentException($"Expected a JSON object, got {value.ValueKind}.", nameof(value));
        }

        var pieces = new List<string>();
        foreach (var member in value.EnumerateObject())
        {
            var piece = new StringBuilder(pieces.Count == 0 ? "{" : ", ");
            AppendString(piece, member.Name);
            piece.Append(": ");
            Write(piece, member.Value, indent: null, level: 0);
            pieces.Add(piece.ToString());
        }

        if (pieces.Count == 0)
        {
            return ["{}"];
        }

        pieces.Add("}");
        return pieces;
    }

    /// <summary>Appends <paramref name="value"/> as a JSON string literal, quotes included.</summary>
    public static void AppendString(StringBuilder text, string value)
    {
        ArgumentNullException.ThrowIfNull(text);
        ArgumentNullException.ThrowIfNull(value);
        text.Append('"');
        foreach (var c in value)
        {
            switch (c)
            {
                case '"': text.Append("\\\""); break;
                case '\\': text.Append("\\\\"); break;
                case '\n': text.Append("\\n"); break;
                case '\r': text.Append("\\r"); break;
                case '\t': text.Append("\\t"); break;
                case '\b': text.Append("\\b"); break;
                case '\f': text.Append("\\f"); break;
                default:
                    if (c < ' ')
                    {
                        text.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
                    }
                    else
                    {
                        text.Append(c);
                    }

                    break;
            }
        }

        text.Append('"');
    }

    /// <summary>A JSON string literal of <paramref name="value"/>.</summary>
    public static string String(string value)
    {
        var text = new StringBuilder(value.Length + 2);
        AppendString(text, value);
        return text.ToString();
    }

    private static void Write(StringBuilder text, JsonElement value, int? indent, int level)
    {
        switch (value.ValueKind)
        {
            case JsonValueKind.Object:
                WriteContainer(text, value.EnumerateObject().Select(m => ((string?)m.Name, m.Value)).ToList(), '{', '}', indent, level);
                break;
            case JsonValueKind.Array:
                WriteContainer(text, value.EnumerateArray().Select(v => ((string?)null, v)).ToList(), '[', ']', indent, level);
                break;
            case JsonValueKind.String:
                AppendString(text, value.GetString()!);
                break;
            case JsonValueKind.Number:
                text.Append(value.GetRawText());
                break;
            case JsonValueKind.True:
                text.Append("true");
                break;
            case JsonValueKind.False:
                text.Append("false");
                break;
            default:
                text.Append("null");
                break;
        }
    }

    private static void WriteContainer(
        StringBuilder text, List<(string? Name, JsonElement Value)> items, char open, char close, int? indent, int level)
    {
        text.Append(open);
        if (items.Count == 0)
        {
            text.Append(close);
            return;
        }

        for (var i = 0; i < items.Count; i++)
        {
            if (indent is { } step)
            {
                text.Append(i == 0 ? "\n" : ",\n").Append(' ', step * (level + 1));
            }
            else if (i > 0)
            {
                text.Append(", ");
            }

            if (items[i].Name is { } name)
            {
                AppendString(text, name);
                text.Append(": ");
            }

            Write(text, items[i].Value, indent, level + 1);
        }

        if (indent is { } last)
        {
            text.Append('\n').Append(' ', last * level);
        }

        text.Append(close);
    }
}
