using System.Text.Json;
using Llama4Cluster.Core.Tokenization;

namespace Llama4Cluster.Gateway.Api;

/// <summary>
/// How one endpoint's responses look: the full response object, and the streamed chunks. Subclasses write the
/// per-choice parts; the envelope (<c>id</c>, <c>object</c>, <c>created</c>, <c>model</c>, <c>usage</c>) is shared.
/// </summary>
internal abstract class ResponseFormat(string id, long created, string model, Llama4Tokenizer tokenizer)
{
    public string Id { get; } = id;

    protected Llama4Tokenizer Tokenizer { get; } = tokenizer;

    /// <summary><c>chat.completion</c> or <c>text_completion</c>.</summary>
    protected abstract string ResponseObject { get; }

    /// <summary><c>chat.completion.chunk</c> or <c>text_completion</c>.</summary>
    protected abstract string ChunkObject { get; }

    /// <summary>The non-streaming response.</summary>
    public void WriteResponse(Utf8JsonWriter json, GenerationPlan plan, IReadOnlyList<ChoiceState> choices)
    {
        WriteEnvelope(json, ResponseObject);
        json.WriteStartArray("choices");
        foreach (var choice in choices)
        {
            json.WriteStartObject();
            json.WriteNumber("index", choice.Index);
            WriteChoiceText(json, plan, choice);
            WriteLogprobsProperty(json, choice, 0);
            json.WriteString("finish_reason", choice.FinishReason);
            WriteStopReason(json, choice);
            json.WriteEndObject();
        }

        json.WriteEndArray();
        WriteUsage(json, plan, choices);
        json.WriteEndObject();
    }

    /// <summary>Whether a stream opens with a chunk per choice before any token (chat: the role; completions: the
    /// echoed prompt).</summary>
    public abstract bool HasOpeningChunk(GenerationPlan plan);

    /// <summary>A chunk with one choice's opening delta.</summary>
    public void WriteOpeningChunk(Utf8JsonWriter json, GenerationPlan plan, ChoiceState choice)
    {
        StartChunkChoice(json, choice);
        WriteOpeningDelta(json, plan, choice);
        json.WriteNull("logprobs");
        json.WriteNull("finish_reason");
        EndChunkChoice(json);
    }

    /// <summary>The chunks a choice streams after a token or its end: its new text (if any) and, when
    /// <paramref name="final"/>, its finish reason.</summary>
    public virtual List<StreamChunk> StreamChunks(ChoiceState choice, string text, bool final) =>
        final || text.Length > 0 ? [new StreamChunk(text, final)] : [];

    /// <summary>A chunk with one choice's <paramref name="chunk"/>, the logprobs of its tokens not yet sent, and, when
    /// final, its finish reason.</summary>
    public void WriteChunk(Utf8JsonWriter json, ChoiceState choice, StreamChunk chunk)
    {
        StartChunkChoice(json, choice);
        WriteDelta(json, chunk);
        WriteLogprobsProperty(json, choice, choice.LogprobsSent);
        choice.LogprobsSent = choice.Logprobs.Count;

        if (chunk.Final)
        {
            json.WriteString("finish_reason", choice.FinishReason);
            WriteStopReason(json, choice);
        }
        else
        {
            json.WriteNull("finish_reason");
        }

        EndChunkChoice(json);
    }

    /// <summary>Opens a chunk with its one choice: the envelope, <c>choices: [{ index</c>.</summary>
    private void StartChunkChoice(Utf8JsonWriter json, ChoiceState choice)
    {
        WriteEnvelope(json, ChunkObject);
        json.WriteStartArray("choices");
        json.WriteStartObject();
        json.WriteNumber("index", choice.Index);
    }

    /// <summary>Closes what <see cref="StartChunkChoice"/> opened.</summary>
    private static void EndChunkChoice(Utf8JsonWriter json)
    {
        json.WriteEndObject();
        json.WriteEndArray();
        json.WriteEndObject();
    }

    /// <summary><c>logprobs</c>: the choice's tokens from <paramref name="from"/> on when the request asked for
    /// them, else null.</summary>
    private void WriteLogprobsProperty(Utf8JsonWriter json, ChoiceState choice, int from)
    {
        json.WritePropertyName("logprobs");
        if (LogprobsRequested)
        {
            WriteLogprobs(json, choice, from, choice.Logprobs.Count);
        }
        else
        {
            json.WriteNullValue();
        }
    }

    /// <summary>The last chunk of <c>stream_options.include_usage</c>: no choices, exact usage.</summary>
    public void WriteUsageChunk(Utf8JsonWriter json, GenerationPlan plan, IReadOnlyList<ChoiceState> choices)
    {
        WriteEnvelope(json, ChunkObject);
        json.WriteStartArray("choices");
        json.WriteEndArray();
        WriteUsage(json, plan, choices);
        json.WriteEndObject();
    }

    /// <summary>Set by the caller when the request asked for logprobs.</summary>
    public bool LogprobsRequested { get; init; }

    /// <summary>A finished choice's text: chat's <c>message</c> object, or completions' <c>text</c> (after any echo).</summary>
    protected abstract void WriteChoiceText(Utf8JsonWriter json, GenerationPlan plan, ChoiceState choice);

    protected abstract void WriteOpeningDelta(Utf8JsonWriter json, GenerationPlan plan, ChoiceState choice);

    protected abstract void WriteDelta(Utf8JsonWriter json, StreamChunk chunk);

    /// <summary>The logprobs of tokens [<paramref name="from"/>, <paramref name="to"/>) of a choice, as a value.</summary>
    protected abstract void WriteLogprobs(Utf8JsonWriter json, ChoiceState choice, int from, int to);

    private static void WriteStopReason(Utf8JsonWriter json, ChoiceState choice)
    {
        switch (choice.StopReason)
        {
            case string text:
                json.WriteString("stop_reason", text);
                break;
            case int token:
                json.WriteNumber("stop_reason", token);
                break;
            default:
                json.WriteNull("stop_reason");
                break;
        }
    }

    /// <summary>A token as text for logprobs (a byte that is only part of a character shows as U+FFFD; its
    /// <c>bytes</c> carry the exact value).</summary>
    /// <summary>A token's text; empty for an id beyond the tokenizer (a padded embedding row a checkpoint may carry).</summary>
    protected string TokenText(int tokenId) => tokenId < Tokenizer.VocabSize ? Tokenizer.Decode([tokenId]) : "";

    private void WriteEnvelope(Utf8JsonWriter json, string type)
    {
        json.WriteStartObject();
        json.WriteString("id", Id);
        json.WriteString("object", type);
        json.WriteNumber("created", created);
        json.WriteString("model", model);
    }

    private static void WriteUsage(Utf8JsonWriter json, GenerationPlan plan, IReadOnlyList<ChoiceState> choices)
    {
        var prompt = plan.PromptTokens;
        var completion = choices.Sum(c => c.CompletionTokens);
        json.WriteStartObject("usage");
        json.WriteNumber("prompt_tokens", prompt);
        json.WriteNumber("completion_tokens", completion);
        json.WriteNumber("total_tokens", prompt + completion);
        // Prompt tokens the ranks took from their prefix caches: per prompt, its choice that found the most.
        json.WriteStartObject("prompt_tokens_details");
        json.WriteNumber("cached_tokens", choices.GroupBy(c => c.PromptIndex).Sum(g => g.Max(c => c.Handle.CachedTokens)));
        json.WriteEndObject();
        json.WriteEndObject();
    }
}
