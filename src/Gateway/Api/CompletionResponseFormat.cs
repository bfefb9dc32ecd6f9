using System.Text.Json;
using Llama4Cluster.Core.Tokenization;

namespace Llama4Cluster.Gateway.Api;

/// <summary><c>text_completion</c> responses and stream chunks, with legacy logprobs (tokens, token_logprobs,
/// top_logprobs as token → logprob objects, text_offset).</summary>
internal sealed class CompletionResponseFormat(string id, long created, string model, Llama4Tokenizer tokenizer)
    : ResponseFormat(id, created, model, tokenizer)
{
    protected override string ResponseObject => "text_completion";

    protected override string ChunkObject => "text_completion";

    public override bool HasOpeningChunk(GenerationPlan plan) => plan.Prompts.Any(p => p.EchoText is not null);

    protected override void WriteChoiceText(Utf8JsonWriter json, GenerationPlan plan, ChoiceState choice)
    {
        json.WriteString("text", plan.Prompts[choice.PromptIndex].EchoText + choice.Text);
    }

    protected override void WriteOpeningDelta(Utf8JsonWriter json, GenerationPlan plan, ChoiceState choice) =>
        json.WriteString("text", plan.Prompts[choice.PromptIndex].EchoText ?? string.Empty);

    protected override void WriteDelta(Utf8JsonWriter json, StreamChunk chunk) => json.WriteString("text", chunk.Text);

    protected override void WriteLogprobs(Utf8JsonWriter json, ChoiceState choice, int from, int to)
    {
        var texts = new string[to - from];
        for (var i = from; i < to; i++)
        {
            texts[i - from] = TokenText(choice.Logprobs[i].TokenId);
        }

        json.WriteStartObject();
        json.WriteStartArray("text_offset");
        foreach (var text in texts)
        {
            json.WriteNumberValue(choice.TextOffset);
            choice.TextOffset += text.Length;
        }

        json.WriteEndArray();
        json.WriteStartArray("token_logprobs");
        for (var i = from; i < to; i++)
        {
            WriteLogprobValue(json, choice.Logprobs[i].Logprob);
        }

        json.WriteEndArray();
        json.WriteStartArray("tokens");
        foreach (var text in texts)
        {
            json.WriteStringValue(text);
        }

        json.WriteEndArray();
        json.WriteStartArray("top_logprobs");
        for (var i = from; i < to; i++)
        {
            // As vLLM: the most probable tokens plus the chosen one, keyed by their text (first key wins).
            var token = choice.Logprobs[i];
            var seen = new HashSet<string>(StringComparer.Ordinal);
            json.WriteStartObject();
            foreach (var top in token.TopLogprobs ?? [])
            {
                var key = TokenText(top.TokenId);
                if (seen.Add(key))
                {
                    json.WriteNumber(key, ApiJson.Logprob(top.Logprob));
                }
            }

            if (token.Logprob is { } chosen && seen.Add(texts[i - from]))
            {
                json.WriteNumber(texts[i - from], ApiJson.Logprob(chosen));
            }

            json.WriteEndObject();
        }

        json.WriteEndArray();
        json.WriteEndObject();
    }

    private static void WriteLogprobValue(Utf8JsonWriter json, float? logprob)
    {
        if (logprob is { } value)
        {
            json.WriteNumberValue(ApiJson.Logprob(value));
        }
        else
        {
            json.WriteNullValue();
        }
    }
}
