using System.Text.Json;
using Llama4Cluster.Core.Tokenization;

namespace Llama4Cluster.Gateway.Api;

/// <summary><c>chat.completion</c> responses and <c>chat.completion.chunk</c> stream chunks, with chat logprobs
/// (<c>logprobs.content[]</c> of token, logprob, bytes, top_logprobs).</summary>
internal sealed class ChatResponseFormat(string id, long created, string model, Llama4Tokenizer tokenizer)
    : ResponseFormat(id, created, model, tokenizer)
{
    protected override string ResponseObject => "chat.completion";

    protected override string ChunkObject => "chat.completion.chunk";

    public override bool HasOpeningChunk(GenerationPlan plan) => true;

    protected override void WriteChoiceText(Utf8JsonWriter json, GenerationPlan plan, ChoiceState choice)
    {
        json.WriteStartObject("message");
        json.WriteString("role", "assistant");
        json.WriteString("content", choice.Text);
        json.WriteStartArray("tool_calls");
        json.WriteEndArray();
        json.WriteEndObject();
    }

    protected override void WriteOpeningDelta(Utf8JsonWriter json, GenerationPlan plan, ChoiceState choice)
    {
        json.WriteStartObject("delta");
        json.WriteString("role", "assistant");
        json.WriteString("content", string.Empty);
        json.WriteEndObject();
    }

    protected override void WriteDelta(Utf8JsonWriter json, string text, bool final)
    {
        json.WriteStartObject("delta");
        if (text.Length > 0 || !final)
        {
            json.WriteString("content", text);
        }

        json.WriteEndObject();
    }

    protected override void WriteLogprobs(Utf8JsonWriter json, ChoiceState choice, int from, int to)
    {
        json.WriteStartObject();
        json.WriteStartArray("content");
        for (var i = from; i < to; i++)
        {
            var token = choice.Logprobs[i];
            json.WriteStartObject();
            WriteToken(json, token.TokenId, token.Logprob);
            json.WriteStartArray("top_logprobs");
            foreach (var top in token.TopLogprobs ?? [])
            {
                json.WriteStartObject();
                WriteToken(json, top.TokenId, top.Logprob);
                json.WriteEndObject();
            }

            json.WriteEndArray();
            json.WriteEndObject();
        }

        json.WriteEndArray();
        json.WriteEndObject();
    }

    private void WriteToken(Utf8JsonWriter json, int tokenId, float? logprob)
    {
        json.WriteString("token", TokenText(tokenId));
        if (logprob is { } value)
        {
            json.WriteNumber("logprob", ApiJson.Logprob(value));
        }
        else
        {
            json.WriteNull("logprob");
        }

        // The token's own bytes (OpenAI's meaning), so a character split over tokens can be put back together.
        json.WriteStartArray("bytes");
        foreach (var b in Tokenizer.GetTokenBytes(tokenId))
        {
            json.WriteNumberValue(b);
        }

        json.WriteEndArray();
    }
}
