using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace Llama4Cluster.Core.Tests.Guidance;

/// <summary>
/// An independent JSON-schema validator for the tests (the keywords guided decoding supports), so the outputs of guided
/// generation are checked by code that shares nothing with the grammar compiler.
/// </summary>
internal static class SchemaCheck
{
    /// <summary>Parses <paramref name="json"/> and returns the validation errors against <paramref name="schema"/> (a parse
    /// failure is one error).</summary>
    public static List<string> Errors(string schema, string json)
    {
        using var schemaDoc = JsonDocument.Parse(schema);
        JsonDocument value;
        try
        {
            value = JsonDocument.Parse(json);
        }
        catch (JsonException e)
        {
            return [$"not JSON: {e.Message} in {json}"];
        }

        using (value)
        {
            var errors = new List<string>();
            Check(value.RootElement, schemaDoc.RootElement, schemaDoc.RootElement, "$", errors);
            return errors;
        }
    }

    private static void Check(JsonElement v, JsonElement s, JsonElement root, string at, List<string> errors)
    {
        if (s.ValueKind == JsonValueKind.True)
        {
            return;
        }

        if (s.TryGetProperty("$ref", out var r))
        {
            var target = root;
            foreach (var part in r.GetString()!.TrimStart('#').Split('/', StringSplitOptions.RemoveEmptyEntries))
            {
                target = target.GetProperty(part);
            }

            Check(v, target, root, at, errors);
            return;
        }

        if (s.TryGetProperty("const", out var c) && !JsonElement.DeepEquals(v, c))
        {
            errors.Add($"{at}: not the const");
        }

        if (s.TryGetProperty("enum", out var e) && !e.EnumerateArray().Any(x => JsonElement.DeepEquals(v, x)))
        {
            errors.Add($"{at}: not in the enum");
        }

        foreach (var key in new[] { "anyOf", "oneOf" })
        {
            if (s.TryGetProperty(key, out var options) && !options.EnumerateArray().Any(o => Valid(v, o, root)))
            {
                errors.Add($"{at}: matches no {key} entry");
            }
        }

        if (s.TryGetProperty("allOf", out var all))
        {
            foreach (var o in all.EnumerateArray())
            {
                Check(v, o, root, at, errors);
            }
        }

        if (s.TryGetProperty("type", out var type) && !TypeOk(v, type, s))
        {
            errors.Add($"{at}: type {v.ValueKind} is not {type}");
            return;
        }

        switch (v.ValueKind)
        {
            case JsonValueKind.Object: Object(v, s, root, at, errors); break;
            case JsonValueKind.Array: Array(v, s, root, at, errors); break;
            case JsonValueKind.String: String(v.GetString()!, s, at, errors); break;
            case JsonValueKind.Number: Number(v.GetDecimal(), s, at, errors); break;
        }
    }

    private static bool Valid(JsonElement v, JsonElement s, JsonElement root)
    {
        var errors = new List<string>();
        Check(v, s, root, "", errors);
        return errors.Count == 0;
    }

    private static bool TypeOk(JsonElement v, JsonElement type, JsonElement s)
    {
        var names = type.ValueKind == JsonValueKind.Array ? type.EnumerateArray().Select(t => t.GetString()!).ToList() : [type.GetString()!];
        if (s.TryGetProperty("nullable", out var n) && n.ValueKind == JsonValueKind.True)
        {
            names.Add("null");
        }

        return names.Any(t => t switch
        {
            "object" => v.ValueKind == JsonValueKind.Object,
            "array" => v.ValueKind == JsonValueKind.Array,
            "string" => v.ValueKind == JsonValueKind.String,
            "number" => v.ValueKind == JsonValueKind.Number,
            "integer" => v.ValueKind == JsonValueKind.Number && decimal.IsInteger(v.GetDecimal()),
            "boolean" => v.ValueKind is JsonValueKind.True or JsonValueKind.False,
            "null" => v.ValueKind == JsonValueKind.Null,
            _ => false,
        });
    }

    private static void Object(JsonElement v, JsonElement s, JsonElement root, string at, List<string> errors)
    {
        var names = v.EnumerateObject().Select(p => p.Name).ToList();
        if (names.Count != names.Distinct().Count())
        {
            errors.Add($"{at}: duplicate keys");
        }

        if (s.TryGetProperty("required", out var required))
        {
            errors.AddRange(required.EnumerateArray().Where(r => !names.Contains(r.GetString()!)).Select(r => $"{at}: missing {r}"));
        }

        var declared = s.TryGetProperty("properties", out var props) ? props : default;
        foreach (var p in v.EnumerateObject())
        {
            if (declared.ValueKind == JsonValueKind.Object && declared.TryGetProperty(p.Name, out var ps))
            {
                Check(p.Value, ps, root, $"{at}.{p.Name}", errors);
            }
            else if (s.TryGetProperty("additionalProperties", out var extra))
            {
                if (extra.ValueKind == JsonValueKind.False)
                {
                    errors.Add($"{at}: unexpected {p.Name}");
                }
                else if (extra.ValueKind == JsonValueKind.Object)
                {
                    Check(p.Value, extra, root, $"{at}.{p.Name}", errors);
                }
            }
        }
    }

    private static void Array(JsonElement v, JsonElement s, JsonElement root, string at, List<string> errors)
    {
        var n = v.GetArrayLength();
        if (s.TryGetProperty("minItems", out var min) && n < min.GetInt32()) errors.Add($"{at}: {n} items < minItems");
        if (s.TryGetProperty("maxItems", out var max) && n > max.GetInt32()) errors.Add($"{at}: {n} items > maxItems");
        if (s.TryGetProperty("items", out var items))
        {
            var i = 0;
            foreach (var item in v.EnumerateArray())
            {
                Check(item, items, root, $"{at}[{i++}]", errors);
            }
        }
    }

    private static void String(string text, JsonElement s, string at, List<string> errors)
    {
        var length = text.EnumerateRunes().Count();
        if (s.TryGetProperty("minLength", out var min) && length < min.GetInt32()) errors.Add($"{at}: length {length} < minLength");
        if (s.TryGetProperty("maxLength", out var max) && length > max.GetInt32()) errors.Add($"{at}: length {length} > maxLength");
        if (s.TryGetProperty("pattern", out var p) && !Regex.IsMatch(text, p.GetString()!, RegexOptions.None, TimeSpan.FromSeconds(5)))
        {
            errors.Add($"{at}: '{text}' does not match {p}");
        }
    }

    private static void Number(decimal x, JsonElement s, string at, List<string> errors)
    {
        string F(decimal d) => d.ToString(CultureInfo.InvariantCulture);
        if (s.TryGetProperty("minimum", out var min) && x < min.GetDecimal()) errors.Add($"{at}: {F(x)} < minimum");
        if (s.TryGetProperty("maximum", out var max) && x > max.GetDecimal()) errors.Add($"{at}: {F(x)} > maximum");
        if (s.TryGetProperty("exclusiveMinimum", out var xmin) && xmin.ValueKind == JsonValueKind.Number && x <= xmin.GetDecimal()) errors.Add($"{at}: {F(x)} <= exclusiveMinimum");
        if (s.TryGetProperty("exclusiveMaximum", out var xmax) && xmax.ValueKind == JsonValueKind.Number && x >= xmax.GetDecimal()) errors.Add($"{at}: {F(x)} >= exclusiveMaximum");
    }
}
