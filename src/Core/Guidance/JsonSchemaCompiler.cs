using System.Text.Json;

namespace Llama4Cluster.Core.Guidance;

/// <summary>
/// Compiles a JSON schema into automaton fragments. Supported: <c>type</c> (one or a list; <c>nullable</c> too),
/// <c>enum</c>, <c>const</c>, <c>anyOf</c>/<c>oneOf</c> (as alternatives), a single-entry <c>allOf</c>, local
/// <c>$ref</c> (<c>#</c>, <c>#/$defs/…</c>, <c>#/definitions/…</c>; recursion included), objects (<c>properties</c> in
/// their order, <c>required</c>, <c>additionalProperties</c>), arrays (<c>items</c>, <c>minItems</c>, <c>maxItems</c>),
/// strings (<c>minLength</c>, <c>maxLength</c>, <c>pattern</c>, <c>format</c> date, time, date-time, uuid), numbers and
/// integers (<c>minimum</c>, <c>maximum</c>, exclusive forms of both drafts). Every other validation keyword is refused
/// with a <see cref="GuidanceException"/> naming it and its path; annotations (title, description, …) are ignored.
/// </summary>
/// <remarks>
/// What is generated is a subset of what the schema accepts, never more: properties come in the schema's order, optional
/// ones may be left out, undeclared ones are never written (an object without <c>properties</c> is any object), numbers
/// have no exponent, and a <c>pattern</c> must match the whole string.
/// </remarks>
internal sealed partial class JsonSchemaCompiler
{
    /// <summary>Largest maxItems/minItems/maxLength/minLength honoured.</summary>
    public const int MaxCount = 10_000;

    private static readonly HashSet<string> Unsupported = new(StringComparer.Ordinal)
    {
        "patternProperties", "propertyNames", "dependentRequired", "dependentSchemas", "dependencies", "unevaluatedProperties",
        "unevaluatedItems", "if", "then", "else", "not", "contains", "minContains", "maxContains", "multipleOf", "minProperties",
        "maxProperties", "prefixItems", "additionalItems", "$dynamicRef", "$recursiveRef", "contentSchema", "contentEncoding",
        "contentMediaType",
    };

    private static readonly HashSet<string> Annotations = new(StringComparer.Ordinal)
    {
        "title", "description", "default", "examples", "$schema", "$id", "$comment", "deprecated", "readOnly", "writeOnly",
        "$defs", "definitions", "$anchor", "strict", "name",
    };

    private readonly JsonSyntax _json;
    private readonly JsonElement _root;
    private readonly Dictionary<string, Fragment> _refs = new(StringComparer.Ordinal);

    private JsonSchemaCompiler(GrammarBuilder builder, JsonElement root)
    {
        _json = new JsonSyntax(builder);
        _root = root;
    }

    private GrammarBuilder B => _json.Builder;

    /// <summary>The fragment for a value valid against <paramref name="schema"/>.</summary>
    public static Fragment Compile(GrammarBuilder builder, JsonElement schema) => new JsonSchemaCompiler(builder, schema).Value(schema, "schema");

    private Fragment Value(JsonElement schema, string path)
    {
        if (schema.ValueKind == JsonValueKind.True)
        {
            return _json.AnyValue();
        }

        if (schema.ValueKind == JsonValueKind.False)
        {
            throw new GuidanceException("false", $"{path} is false: no value can match it.");
        }

        if (schema.ValueKind != JsonValueKind.Object)
        {
            throw new GuidanceException("schema", $"{path} must be a JSON object or a boolean; got {schema.ValueKind}.");
        }

        foreach (var property in schema.EnumerateObject())
        {
            if (Unsupported.Contains(property.Name) || (property.Name == "uniqueItems" && property.Value.ValueKind == JsonValueKind.True))
            {
                throw new GuidanceException(property.Name, $"{path}.{property.Name} is not supported by guided decoding.");
            }
        }

        if (schema.TryGetProperty("$ref", out var reference))
        {
            RequireAlone(schema, "$ref", path);
            return Ref(reference, path);
        }

        if (schema.TryGetProperty("const", out var constant))
        {
            return _json.Value(constant);
        }

        if (schema.TryGetProperty("enum", out var values))
        {
            return Enum(values, path);
        }

        foreach (var keyword in (ReadOnlySpan<string>)["anyOf", "oneOf"])
        {
            if (schema.TryGetProperty(keyword, out var options))
            {
                RequireAlone(schema, keyword, path);
                var list = Items(options, $"{path}.{keyword}");
                return B.Alt([.. list.Select((o, i) => Value(o, $"{path}.{keyword}[{i}]"))]);
            }
        }

        if (schema.TryGetProperty("allOf", out var all))
        {
            var list = Items(all, $"{path}.allOf");
            RequireAlone(schema, "allOf", path);
            return list.Count == 1
                ? Value(list[0], $"{path}.allOf[0]")
                : throw new GuidanceException("allOf", $"{path}.allOf with {list.Count} schemas is not supported (only a single schema).");
        }

        var types = Types(schema, path);
        return types.Count == 1 ? Typed(schema, types[0], path) : B.Alt([.. types.Select(t => Typed(schema, t, path))]);
    }

    private Fragment Typed(JsonElement schema, string type, string path) => type switch
    {
        "object" => Object(schema, path),
        "array" => Array(schema, path),
        "string" => String(schema, path),
        "number" => Number(schema, path, integer: false),
        "integer" => Number(schema, path, integer: true),
        "boolean" => _json.Boolean(),
        "null" => _json.Null(),
        "any" => _json.AnyValue(),
        _ => throw new GuidanceException("type", $"{path}.type \"{type}\" is not a JSON schema type."),
    };

    /// <summary>The schema's types: <c>type</c> (one or a list), plus null when <c>nullable</c>; else inferred from the
    /// keywords present; else any value.</summary>
    private static List<string> Types(JsonElement schema, string path)
    {
        var types = new List<string>();
        if (schema.TryGetProperty("type", out var type))
        {
            if (type.ValueKind == JsonValueKind.String)
            {
                types.Add(type.GetString()!);
            }
            else if (type.ValueKind == JsonValueKind.Array && type.GetArrayLength() > 0)
            {
                types.AddRange(type.EnumerateArray().Select(t => t.ValueKind == JsonValueKind.String
                    ? t.GetString()!
                    : throw new GuidanceException("type", $"{path}.type must list type names.")));
            }
            else
            {
                throw new GuidanceException("type", $"{path}.type must be a type name or a non-empty list of them.");
            }
        }
        else if (Has(schema, "properties", "required", "additionalProperties"))
        {
            types.Add("object");
        }
        else if (Has(schema, "items", "minItems", "maxItems"))
        {
            types.Add("array");
        }
        else if (Has(schema, "minLength", "maxLength", "pattern", "format"))
        {
            types.Add("string");
        }
        else if (Has(schema, "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"))
        {
            types.Add("number");
        }
        else
        {
            types.Add("any");
        }

        if (schema.TryGetProperty("nullable", out var nullable) && nullable.ValueKind == JsonValueKind.True && !types.Contains("null"))
        {
            types.Add("null");
        }

        // integer within number adds nothing: keep the wider.
        if (types.Contains("number"))
        {
            types.Remove("integer");
        }

        return types.Distinct(StringComparer.Ordinal).ToList();
    }

    private Fragment Enum(JsonElement values, string path)
    {
        var list = Items(values, $"{path}.enum");
        return B.Alt([.. list.Select(_json.Value)]);
    }

    private Fragment Ref(JsonElement reference, string path)
    {
        var target = reference.ValueKind == JsonValueKind.String ? reference.GetString()! : throw new GuidanceException("$ref", $"{path}.$ref must be a string.");
        if (_refs.TryGetValue(target, out var rule))
        {
            return B.Call(rule);
        }

        var resolved = Resolve(target, path);
        rule = B.NewRule();
        _refs[target] = rule;
        B.Define(rule, Value(resolved, target));
        return B.Call(rule);
    }

    /// <summary>A JSON pointer into this schema (<c>#</c> or <c>#/…</c>).</summary>
    private JsonElement Resolve(string target, string path)
    {
        if (target != "#" && !target.StartsWith("#/", StringComparison.Ordinal))
        {
            throw new GuidanceException("$ref", $"{path}.$ref \"{target}\" is not supported: only references within the schema (\"#\", \"#/$defs/...\").");
        }

        var at = _root;
        foreach (var raw in target.Length <= 2 ? [] : target[2..].Split('/'))
        {
            var segment = Uri.UnescapeDataString(raw).Replace("~1", "/", StringComparison.Ordinal).Replace("~0", "~", StringComparison.Ordinal);
            if (at.ValueKind == JsonValueKind.Object && at.TryGetProperty(segment, out var next))
            {
                at = next;
            }
            else if (at.ValueKind == JsonValueKind.Array && int.TryParse(segment, out var index) && index >= 0 && index < at.GetArrayLength())
            {
                at = at[index];
            }
            else
            {
                throw new GuidanceException("$ref", $"{path}.$ref \"{target}\" cannot be resolved: no \"{segment}\" there.");
            }
        }

        return at;
    }

    /// <summary>A keyword that replaces the schema (<c>$ref</c>, <c>anyOf</c>, …) may only sit beside annotations.</summary>
    private static void RequireAlone(JsonElement schema, string keyword, string path)
    {
        var others = schema.EnumerateObject().Select(p => p.Name)
            .Where(n => n != keyword && !Annotations.Contains(n) && n != "nullable" && n != "type").ToList();
        if (others.Count > 0)
        {
            throw new GuidanceException(keyword, $"{path}: {keyword} alongside {string.Join(", ", others)} is not supported; put those inside each {keyword} entry.");
        }
    }

    private static List<JsonElement> Items(JsonElement array, string path)
    {
        if (array.ValueKind != JsonValueKind.Array || array.GetArrayLength() == 0)
        {
            throw new GuidanceException(path[(path.LastIndexOf('.') + 1)..], $"{path} must be a non-empty array.");
        }

        return [.. array.EnumerateArray()];
    }

    private static bool Has(JsonElement schema, params string[] keywords) => keywords.Any(k => schema.TryGetProperty(k, out _));
}
