using System.Text.Json;
using Llama4Cluster.Gateway.Model;
using Llama4Cluster.Core.Tokenization;

namespace Llama4Cluster.Gateway.Api;

/// <summary>Reads a <c>POST /v1/completions</c> body into a <see cref="GenerationPlan"/>.</summary>
internal static class CompletionRequestReader
{
    /// <summary>vLLM's (and OpenAI's) default <c>max_tokens</c> for legacy completions.</summary>
    public const int DefaultMaxTokens = 16;

    /// <exception cref="ApiException">A 400 or 404 naming the problem.</exception>
    public static GenerationPlan Read(JsonElement body, ServedModel model, ApiOptions options)
    {
        var fields = new RequestFields(body);
        ServedModelCheck.Require(fields, model);
        var echo = fields.Bool("echo") ?? false;
        // vLLM's tokenizer adds <|begin_of_text|> to a text prompt unless told not to; token-id prompts are used as given.
        var addSpecialTokens = fields.Bool("add_special_tokens") ?? true;
        var prompts = Prompts(fields, model.Tokenizer, ServedModelCheck.VocabSize(model), addSpecialTokens, echo, options.Limits.MaxPrompts);
        if (fields.String("suffix") is { Length: > 0 })
        {
            throw ApiException.BadRequest("suffix is not supported (no fill-in-the-middle).", "suffix");
        }

        var parameters = GenerationParameters.Read(fields, chat: false, ServedModelCheck.VocabSize(model), options.Limits);
        if (echo && parameters.Logprobs)
        {
            throw ApiException.BadRequest(
                "echo with logprobs is not supported: prompt logprobs are not computed; drop one of them.", "logprobs");
        }

        return GenerationPlan.Create(parameters, prompts, model.MaxModelLength, DefaultMaxTokens, "prompt", options.Limits.MaxSequences);
    }

    private static List<PlannedPrompt> Prompts(
        RequestFields fields, Llama4Tokenizer tokenizer, int vocabSize, bool addSpecialTokens, bool echo, int maxPrompts)
    {
        if (!fields.TryGet("prompt", out var prompt))
        {
            throw ApiException.BadRequest("prompt is required: a string, an array of token ids, or an array of those.", "prompt");
        }

        switch (prompt.ValueKind)
        {
            case JsonValueKind.String:
                return [TextPrompt(RequestFields.Text(prompt, "prompt"), tokenizer, addSpecialTokens, echo, "prompt")];
            case JsonValueKind.Array:
                break;
            default:
                throw ApiException.WrongType("prompt", "a string, an array of token ids, or an array of those", prompt.ValueKind);
        }

        var count = prompt.GetArrayLength();
        if (count == 0)
        {
            throw ApiException.BadRequest("prompt must not be empty.", "prompt");
        }

        var first = prompt[0];
        if (first.ValueKind == JsonValueKind.Number)
        {
            return [TokenPrompt(prompt, tokenizer, vocabSize, echo, "prompt")];
        }

        if (count > maxPrompts)
        {
            throw ApiException.BadRequest($"prompt holds {count} prompts; at most {maxPrompts} are accepted in one request.", "prompt");
        }

        var prompts = new List<PlannedPrompt>(count);
        var i = 0;
        foreach (var item in prompt.EnumerateArray())
        {
            var path = $"prompt[{i}]";
            prompts.Add(item.ValueKind switch
            {
                JsonValueKind.String => TextPrompt(RequestFields.Text(item, path), tokenizer, addSpecialTokens, echo, path),
                JsonValueKind.Array => TokenPrompt(item, tokenizer, vocabSize, echo, path),
                _ => throw ApiException.WrongType(path, "a string or an array of token ids", item.ValueKind),
            });
            i++;
        }

        return prompts;
    }

    private static PlannedPrompt TextPrompt(string text, Llama4Tokenizer tokenizer, bool addSpecialTokens, bool echo, string path)
    {
        var ids = new List<int>(text.Length / 3 + 2);
        if (addSpecialTokens)
        {
            ids.Add(tokenizer.BeginOfText);
        }

        ids.AddRange(tokenizer.Encode(text));
        if (ids.Count == 0)
        {
            throw ApiException.BadRequest($"{path} must not be empty.", path);
        }

        return new PlannedPrompt(ids, echo ? text : null);
    }

    private static PlannedPrompt TokenPrompt(JsonElement array, Llama4Tokenizer tokenizer, int vocabSize, bool echo, string path)
    {
        var count = array.GetArrayLength();
        if (count == 0)
        {
            throw ApiException.BadRequest($"{path} must not be empty.", path);
        }

        var ids = new List<int>(count);
        foreach (var item in array.EnumerateArray())
        {
            if (item.ValueKind != JsonValueKind.Number)
            {
                throw ApiException.WrongType(path, "an array of token ids (integers)", item.ValueKind);
            }

            ids.Add((int)RequestFields.ReadInteger(
                item, path, 0, vocabSize - 1, $"an array of token ids in [0, {vocabSize - 1}]"));
        }

        return new PlannedPrompt(ids, echo ? tokenizer.Decode(ids) : null);
    }
}
