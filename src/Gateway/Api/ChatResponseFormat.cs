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
        if (choice.ToolCalls.Count > 0 && choice.Text.Length == 0)
        {
            json.WriteNull("content"); // an answer that only called functions, as OpenAI writes it
        }
        else
        {
            json.WriteString("content", choice.Text);
        }

        json.WriteStartArray("tool_calls");
        foreach (var call in choice.ToolCalls)
        {
            json.WriteStartObject();
            json.WriteString("id", call.Id);
            json.WriteString("type", "function");
            json.WriteStartObject("function");
            json.WriteString("name", call.Call.Name);
            json.WriteString("arguments", call.Call.ArgumentsJson);
            json.WriteEndObject();
            json.WriteEndObject();
        }

        json.WriteEndArray();
        json.WriteEndObject();
    }

    /// <summary>With tool calls: content first, then per call a chunk with its id, type and name (arguments empty) and
    /// a chunk per piece of its arguments, then the finish reason alone — the deltas the OpenAI SDKs put back together.</summary>
    public override List<StreamChunk> StreamChunks(ChoiceState choice, string text, bool final)
    {
        if (choice.ToolCallsSent == choice.ToolCalls.Count)
        {
            return base.StreamChunks(choice, text, final);
        }

        var chunks = new List<StreamChunk>();
        if (text.Length > 0)
        {
            chunks.Add(new StreamChunk(text, Final: false));
        }

        foreach (var call in choice.ToolCalls.Skip(choice.ToolCallsSent))
        {
            chunks.Add(new StreamChunk("", Final: false, call));
            chunks.AddRange(call.Call.ArgumentPieces.Select(piece => new StreamChunk("", Final: false, call, piece)));
        }

        choice.ToolCallsSent = choice.ToolCalls.Count;
        if (final)
        {
            chunks.Add(new StreamChunk("", Final: true));
        }

        return chunks;
    }

    protected override void WriteOpeningDelta(Utf8JsonWriter json, GenerationPlan plan, ChoiceState choice)
    {
        json.WriteStartObject("delta");
        json.WriteString("role", "assistant");
        json.WriteString("content", string.Empty);
        json.WriteEndObject();
    }

    protected override void WriteDelta(Utf8JsonWriter json, StreamChunk chunk)
    {
        json.WriteStartObject("delta");
        if (chunk.Call is { } call)
        {
            json.WriteStartArray("tool_calls");
            json.WriteStartObject();
            json.WriteNumber("index", call.Index);
            if (chunk.ArgumentPiece is null)
            {
                json.WriteString("id", call.Id);
                json.WriteString("type", "function");
            }

            json.WriteStartObject("function");
            if (chunk.ArgumentPiece is null)
            {
                json.WriteString("name", call.Call.Name);
            }

            json.WriteString("arguments", chunk.ArgumentPiece ?? "");
            json.WriteEndObject();
            json.WriteEndObject();
            json.WriteEndArray();
        }
        else if (chunk.Text.Length > 0 || !chunk.Final)
        {
            json.WriteString("content", chunk.Text);
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
