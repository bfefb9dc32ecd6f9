using System.Text.Json;
using Llama4Cluster.Core.Guidance;

namespace Llama4Cluster.Gateway.Api;

/// <summary>
/// Structured output as requests ask for it: OpenAI's <c>response_format</c> (<c>text</c>, <c>json_object</c>,
/// <c>json_schema</c> with <c>{name, schema, strict}</c>) and vLLM's <c>guided_json</c>, <c>guided_regex</c>,
/// <c>guided_choice</c>, on chat and completions alike. The constraint is compiled here once to check it, so an unsupported
/// schema feature is a 400 naming the field and the feature before anything is queued; the rank compiles it again against
/// its tokenizer. Strict or not, a schema is enforced exactly (what is generated is always valid against it).
/// </summary>
internal static class GuidanceRequest
{
    /// <exception cref="ApiException">400 naming the field and the problem.</exception>
    public static GuidanceSpec? Read(RequestFields fields)
    {
        foreach (var unsupported in (ReadOnlySpan<string>)["guided_grammar", "guided_whitespace_pattern", "structured_outputs"])
        {
            if (fields.TryGet(unsupported, out var v) && v.ValueKind != JsonValueKind.Null)
            {
                throw ApiException.BadRequest($"{unsupported} is not supported; use response_format, guided_json, guided_regex or guided_choice.", unsupported);
            }
        }

        _ = fields.String("guided_decoding_backend"); // one engine here: any backend name is accepted
        var found = new List<(string Param, GuidanceSpec Spec)>();
        if (ResponseFormat(fields) is { } format)
        {
            found.Add(format);
        }

        if (fields.TryGet("guided_json", out var json) && json.ValueKind != JsonValueKind.Null)
        {
            var text = json.ValueKind switch
            {
                JsonValueKind.Object or JsonValueKind.True => json.GetRawText(),
                JsonValueKind.String => RequestFields.Text(json, "guided_json"),
                _ => throw ApiException.WrongType("guided_json", "a JSON schema (an object, or its text)", json.ValueKind),
            };
            found.Add(("guided_json", GuidanceSpec.JsonSchema(text)));
        }

        if (fields.String("guided_regex") is { } regex)
        {
            found.Add(("guided_regex", GuidanceSpec.Regex(regex)));
        }

        if (fields.TryGet("guided_choice", out var choice) && choice.ValueKind != JsonValueKind.Null)
        {
            found.Add(("guided_choice", GuidanceSpec.Choice(Choices(choice))));
        }

        if (found.Count > 1)
        {
            throw ApiException.BadRequest(
                $"{found[0].Param} and {found[1].Param} both constrain the output; send only one.", found[1].Param);
        }

        if (found.Count == 0)
        {
            return null;
        }

        var (param, spec) = found[0];
        try
        {
            GrammarCompiler.Validate(spec);
        }
        catch (GuidanceException e)
        {
            throw ApiException.BadRequest($"{param}: {e.Message}", param);
        }

        if (fields.Bool("ignore_eos") == true && (!fields.TryGet("stop_token_ids", out var stops) || stops.ValueKind != JsonValueKind.Array || stops.GetArrayLength() == 0))
        {
            throw ApiException.BadRequest($"ignore_eos cannot be combined with {param}: structured output ends on a stop token (add stop_token_ids).", "ignore_eos");
        }

        return spec;
    }

    private static (string Param, GuidanceSpec Spec)? ResponseFormat(RequestFields fields)
    {
        if (!fields.TryGet("response_format", out var format) || format.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        if (format.ValueKind != JsonValueKind.Object)
        {
            throw ApiException.WrongType("response_format", "an object", format.ValueKind);
        }

        var formatFields = new RequestFields(format);
        var type = formatFields.String("type", "response_format.type")
            ?? throw ApiException.BadRequest("response_format.type is required: text, json_object or json_schema.", "response_format.type");
        switch (type)
        {
            case "text":
                return null;
            case "json_object":
                return ("response_format", GuidanceSpec.JsonObject());
            case "json_schema":
                const string param = "response_format.json_schema";
                if (!formatFields.TryGet("json_schema", out var wrapper) || wrapper.ValueKind != JsonValueKind.Object)
                {
                    throw ApiException.BadRequest($"{param} is required for type json_schema: {{\"name\": ..., \"schema\": {{...}}, \"strict\": true}}.", param);
                }

                var w = new RequestFields(wrapper);
                _ = w.String("name", $"{param}.name");
                _ = w.String("description", $"{param}.description");
                _ = w.Bool("strict");
                if (!w.TryGet("schema", out var schema) || schema.ValueKind is not (JsonValueKind.Object or JsonValueKind.True))
                {
                    throw ApiException.BadRequest($"{param}.schema is required: the JSON schema the output must follow (an object).", $"{param}.schema");
                }

                return ($"{param}.schema", GuidanceSpec.JsonSchema(schema.GetRawText()));
            default:
                throw ApiException.BadRequest(
                    $"response_format.type \"{type}\" is not supported; use text, json_object or json_schema.", "response_format.type");
        }
    }

    private static List<string> Choices(JsonElement value)
    {
        if (value.ValueKind != JsonValueKind.Array || value.GetArrayLength() == 0)
        {
            throw ApiException.WrongType("guided_choice", "a non-empty array of strings", value.ValueKind);
        }

        if (value.GetArrayLength() > GrammarCompiler.MaxChoices)
        {
            throw ApiException.BadRequest($"guided_choice takes at most {GrammarCompiler.MaxChoices} choices; got {value.GetArrayLength()}.", "guided_choice");
        }

        return [.. value.EnumerateArray().Select(item => item.ValueKind == JsonValueKind.String
            ? RequestFields.Text(item, "guided_choice")
            : throw ApiException.WrongType("guided_choice", "a non-empty array of strings", item.ValueKind))];
    }
}
