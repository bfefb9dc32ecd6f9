using System.Text.Json;

namespace Llama4Cluster.Core.Guidance;

/// <summary>The typed parts of <see cref="JsonSchemaCompiler"/>: objects, arrays, strings and numbers.</summary>
internal sealed partial class JsonSchemaCompiler
{
    private static readonly Dictionary<string, string> Formats = new(StringComparer.Ordinal)
    {
        ["date"] = Date,
        ["time"] = Time,
        ["date-time"] = Date + "T" + Time,
        ["uuid"] = "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}",
    };

    private const string Date = "[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])";
    private const string Time = "([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\\.[0-9]{1,6})?(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])";

    /// <summary>
    /// Properties in schema order. Node <c>first[i]</c>: none written yet, at property i; <c>more[i]</c>: some written.
    /// Property i is entered from first[i] directly or from more[i] after a comma, so its value is compiled once; an
    /// optional property can be skipped (first[i] → first[i+1], more[i] → more[i+1]).
    /// </summary>
    private Fragment Object(JsonElement schema, string path)
    {
        var properties = schema.TryGetProperty("properties", out var p) ? p : default;
        if (properties.ValueKind is not (JsonValueKind.Undefined or JsonValueKind.Object))
        {
            throw new GuidanceException("properties", $"{path}.properties must be an object.");
        }

        var required = Required(schema, path);
        var additional = schema.TryGetProperty("additionalProperties", out var a) ? a : default;
        var declared = properties.ValueKind == JsonValueKind.Object ? properties.EnumerateObject().ToList() : [];
        var names = declared.Select(d => d.Name).ToHashSet(StringComparer.Ordinal);
        var members = declared.Select(d => (d.Name, Schema: d.Value)).ToList();
        foreach (var name in required.Where(r => !names.Contains(r)))
        {
            if (additional.ValueKind == JsonValueKind.False)
            {
                throw new GuidanceException("required", $"{path}.required names \"{name}\", which properties does not declare and additionalProperties forbids.");
            }

            members.Add((name, additional.ValueKind == JsonValueKind.Object ? additional : default));
        }

        if (members.Count == 0)
        {
            return additional.ValueKind switch
            {
                JsonValueKind.False => B.Seq(B.Literal("{"), _json.Whitespace(), B.Literal("}")),
                JsonValueKind.Object => MapOf(additional, $"{path}.additionalProperties"),
                _ => _json.AnyObject(),
            };
        }

        if (additional.ValueKind == JsonValueKind.Object && names.Count > 0)
        {
            throw new GuidanceException("additionalProperties", $"{path}.additionalProperties as a schema beside properties is not supported; declare the properties, or use it alone for a map.");
        }

        return Members(members, required, path);
    }

    private Fragment Members(List<(string Name, JsonElement Schema)> members, HashSet<string> required, string path)
    {
        var n = members.Count;
        var first = Enumerable.Range(0, n + 1).Select(_ => B.NewNode()).ToArray();
        var more = Enumerable.Range(0, n + 1).Select(_ => B.NewNode()).ToArray();
        for (var i = 0; i < n; i++)
        {
            var (name, schema) = members[i];
            var value = schema.ValueKind == JsonValueKind.Undefined ? _json.AnyValue() : Value(schema, $"{path}.properties.{name}");
            var member = B.Seq(_json.Key(name), _json.Punctuation(":"), value);
            var comma = _json.Punctuation(",");
            B.Epsilon(first[i], member.Start);
            B.Epsilon(more[i], comma.Start);
            B.Epsilon(comma.End, member.Start);
            B.Epsilon(member.End, more[i + 1]);
            if (!required.Contains(name))
            {
                B.Epsilon(first[i], first[i + 1]);
                B.Epsilon(more[i], more[i + 1]);
            }
        }

        var open = B.Seq(B.Literal("{"), _json.Whitespace());
        var close = B.Seq(_json.Whitespace(), B.Literal("}"));
        B.Epsilon(open.End, first[0]);
        B.Epsilon(more[n], close.Start);
        if (members.All(m => !required.Contains(m.Name)))
        {
            B.Epsilon(first[n], close.Start);
        }

        return new Fragment(open.Start, close.End);
    }

    private Fragment MapOf(JsonElement valueSchema, string path)
    {
        var rule = B.NewRule();
        B.Define(rule, Value(valueSchema, path));
        return _json.Map(() => B.Call(rule));
    }

    private static HashSet<string> Required(JsonElement schema, string path)
    {
        var required = new HashSet<string>(StringComparer.Ordinal);
        if (!schema.TryGetProperty("required", out var list))
        {
            return required;
        }

        if (list.ValueKind != JsonValueKind.Array)
        {
            throw new GuidanceException("required", $"{path}.required must be an array of property names.");
        }

        foreach (var item in list.EnumerateArray())
        {
            required.Add(item.ValueKind == JsonValueKind.String ? item.GetString()! : throw new GuidanceException("required", $"{path}.required must hold strings."));
        }

        return required;
    }

    private Fragment Array(JsonElement schema, string path)
    {
        var min = Count(schema, "minItems", path) ?? 0;
        var max = Count(schema, "maxItems", path);
        if (max < min)
        {
            throw new GuidanceException("maxItems", $"{path}: maxItems {max} is below minItems {min}.");
        }

        var items = schema.TryGetProperty("items", out var i) ? i : default;
        if (items.ValueKind == JsonValueKind.Array)
        {
            throw new GuidanceException("items", $"{path}.items as an array (a tuple) is not supported; use a single schema.");
        }

        var rule = B.NewRule();
        B.Define(rule, items.ValueKind == JsonValueKind.Undefined ? _json.AnyValue() : Value(items, $"{path}.items"));
        return _json.Array(() => B.Call(rule), min, max);
    }

    private Fragment String(JsonElement schema, string path)
    {
        var min = Count(schema, "minLength", path) ?? 0;
        var max = Count(schema, "maxLength", path);
        if (max < min)
        {
            throw new GuidanceException("maxLength", $"{path}: maxLength {max} is below minLength {min}.");
        }

        string? pattern = null;
        if (schema.TryGetProperty("format", out var format))
        {
            var name = format.GetString() ?? "";
            pattern = Formats.TryGetValue(name, out var f) ? f
                : throw new GuidanceException("format", $"{path}.format \"{name}\" is not supported (supported: {string.Join(", ", Formats.Keys)}).");
        }

        if (schema.TryGetProperty("pattern", out var regex))
        {
            pattern = regex.ValueKind == JsonValueKind.String ? regex.GetString()! : throw new GuidanceException("pattern", $"{path}.pattern must be a string.");
        }

        if (pattern is null)
        {
            return _json.String(min, max);
        }

        if (min > 0 || max is not null)
        {
            throw new GuidanceException("pattern", $"{path}: pattern or format together with minLength/maxLength is not supported; bound the length in the pattern.");
        }

        RegexNode parsed;
        try
        {
            parsed = RegexParser.Parse(pattern);
        }
        catch (GuidanceException e)
        {
            throw new GuidanceException(e.Feature, $"{path}.pattern: {e.Message}");
        }

        var body = new RegexEmitter(B, jsonString: true).Emit(parsed);
        return B.Seq(B.Literal("\""), body, B.Literal("\""));
    }

    private Fragment Number(JsonElement schema, string path, bool integer)
    {
        var min = Decimal(schema, "minimum", path);
        var max = Decimal(schema, "maximum", path);
        bool exclusiveMin = false, exclusiveMax = false;
        if (schema.TryGetProperty("exclusiveMinimum", out var xmin))
        {
            // Draft 4: a boolean beside minimum; later drafts: the bound itself.
            (min, exclusiveMin) = xmin.ValueKind is JsonValueKind.True or JsonValueKind.False
                ? (min, xmin.ValueKind == JsonValueKind.True)
                : Tighter(min, Decimal(schema, "exclusiveMinimum", path), lower: true);
        }

        if (schema.TryGetProperty("exclusiveMaximum", out var xmax))
        {
            (max, exclusiveMax) = xmax.ValueKind is JsonValueKind.True or JsonValueKind.False
                ? (max, xmax.ValueKind == JsonValueKind.True)
                : Tighter(max, Decimal(schema, "exclusiveMaximum", path), lower: false);
        }

        var bounds = new NumberBounds
        {
            Integer = integer, Minimum = min, Maximum = max, ExclusiveMinimum = exclusiveMin, ExclusiveMaximum = exclusiveMax,
            IntegerDigits = NumberBounds.DigitsFor(min, max),
        };
        try
        {
            return _json.Number(bounds);
        }
        catch (GuidanceException e)
        {
            throw new GuidanceException(e.Feature, $"{path}: {e.Message}");
        }
    }

    /// <summary>The tighter of an inclusive bound and an exclusive one, and whether the result is exclusive.</summary>
    private static (decimal? Bound, bool Exclusive) Tighter(decimal? inclusive, decimal? exclusive, bool lower)
    {
        if (inclusive is null || exclusive is null)
        {
            return exclusive is null ? (inclusive, false) : (exclusive, true);
        }

        var exclusiveWins = lower ? exclusive >= inclusive : exclusive <= inclusive;
        return exclusiveWins ? (exclusive, true) : (inclusive, false);
    }

    private static decimal? Decimal(JsonElement schema, string keyword, string path)
    {
        if (!schema.TryGetProperty(keyword, out var value))
        {
            return null;
        }

        if (value.ValueKind != JsonValueKind.Number)
        {
            throw new GuidanceException(keyword, $"{path}.{keyword} must be a number.");
        }

        // Beyond decimal's range a bound excludes nothing the digit limits allow.
        return value.TryGetDecimal(out var d) ? d : null;
    }

    private static int? Count(JsonElement schema, string keyword, string path)
    {
        if (!schema.TryGetProperty(keyword, out var value))
        {
            return null;
        }

        if (value.ValueKind != JsonValueKind.Number || !value.TryGetInt64(out var n) || n < 0)
        {
            throw new GuidanceException(keyword, $"{path}.{keyword} must be a non-negative integer.");
        }

        return n <= MaxCount ? (int)n : throw new GuidanceException(keyword, $"{path}.{keyword} {n} is above the supported {MaxCount}.");
    }
}
