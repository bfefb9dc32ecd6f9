using System.Text;
using Llama4Cluster.Core.Scheduling;
using Llama4Cluster.Core.Sampling;
using Llama4Cluster.Core.Tokenization;
using Llama4Cluster.Core.Tools;

namespace Llama4Cluster.Gateway.Api;

/// <summary>
/// One choice of a response while it generates: its sequence, the streaming detokenizer, the stop-string matcher,
/// the tool-call reader (chat requests with tools), the text released so far, its tokens' logprobs and how it ended.
/// Touched by the request's one writer loop only.
/// </summary>
internal sealed class ChoiceState
{
    private readonly IncrementalDecoder _decoder;
    private readonly int _vocabSize;
    private readonly StopStringMatcher _stops;
    private readonly bool _keepLogprobs;
    private readonly StringBuilder? _text;
    private readonly ToolCallStream? _tools;
    private readonly int? _pythonStart;
    private readonly int? _pythonEnd;

    public ChoiceState(
        PlannedSequence sequence, SequenceHandle handle, Llama4Tokenizer tokenizer, GenerationParameters parameters, bool keepText, ToolParsing? tools = null)
    {
        Index = sequence.Index;
        PromptIndex = sequence.PromptIndex;
        Handle = handle;
        // Reading calls, special tokens never reach the text, except the two that wrap a call: the reader sees those.
        _decoder = tokenizer.CreateIncrementalDecoder(tools is not null || parameters.SkipSpecialTokens);
        if (tools is not null)
        {
            _tools = new ToolCallStream(tools.Names, tools.Parallel ? int.MaxValue : 1);
            _pythonStart = tokenizer.TryGetSpecialTokenId(Llama4SpecialTokens.PythonStart);
            _pythonEnd = tokenizer.TryGetSpecialTokenId(Llama4SpecialTokens.PythonEnd);
        }

        _vocabSize = tokenizer.VocabSize;
        _stops = new StopStringMatcher(parameters.Stop, parameters.IncludeStopStringInOutput);
        _keepLogprobs = parameters.Logprobs;
        _text = keepText ? new StringBuilder() : null;
    }

    public int Index { get; }

    public int PromptIndex { get; }

    public SequenceHandle Handle { get; }

    /// <summary>Tokens generated for this choice up to its end (a token that completed a stop string included).</summary>
    public int CompletionTokens { get; private set; }

    /// <summary>The text released so far (non-streaming responses only); with tools, the content around the calls.</summary>
    public string Text => _text?.ToString() ?? string.Empty;

    /// <summary>The tool calls the answer made so far (chat requests with tools).</summary>
    public List<AnswerToolCall> ToolCalls { get; } = [];

    /// <summary>Tool calls from this index on are not yet streamed.</summary>
    public int ToolCallsSent { get; set; }

    /// <summary>Every token's logprobs, when requested.</summary>
    public List<SampledToken> Logprobs { get; } = [];

    /// <summary>Logprobs entries from this index on are not yet sent (streaming).</summary>
    public int LogprobsSent { get; set; }

    /// <summary>Legacy completions' <c>text_offset</c> of the next token.</summary>
    public int TextOffset { get; set; }

    /// <summary>Null while generating; then <c>stop</c>, <c>length</c>, or <c>tool_calls</c> when the answer made calls.</summary>
    public string? FinishReason { get; private set; }

    /// <summary>vLLM's <c>stop_reason</c>: the matched stop string, the stop token id, or null (EOS or length).</summary>
    public object? StopReason { get; private set; }

    /// <summary>Finished normally (<see cref="FinishReason"/> set) or failed.</summary>
    public bool Ended { get; private set; }

    /// <summary>Ids the caller must treat as EOS (stop_reason null, as in vLLM) rather than a requested stop token.</summary>
    public IReadOnlyCollection<int> EosTokenIds { get; init; } = [];

    /// <summary>When the previous token arrived (<see cref="System.Diagnostics.Stopwatch"/> ticks); 0 before the first.</summary>
    public long LastTokenAt { get; set; }

    /// <summary>The longest wait between two of its tokens so far (its worst stall).</summary>
    public TimeSpan LongestGap { get; set; }

    /// <summary>Adds a token. Returns the text it releases; when it completes a stop string the choice is finished
    /// (<see cref="FinishReason"/> <c>stop</c>) and its sequence cancelled.</summary>
    public string OnToken(SampledToken token)
    {
        CompletionTokens++;
        if (_keepLogprobs)
        {
            Logprobs.Add(token);
        }

        // An id beyond the tokenizer (checkpoints may pad the embedding table past it) has no text.
        var piece = token.TokenId < _vocabSize ? _decoder.Add(token.TokenId) : "";
        if (_tools is not null && (token.TokenId == _pythonStart || token.TokenId == _pythonEnd))
        {
            piece += token.TokenId == _pythonStart ? Llama4SpecialTokens.PythonStart : Llama4SpecialTokens.PythonEnd;
        }

        var (released, matched) = _stops.Add(piece);
        released = ReadCalls(released, end: matched is not null);
        _text?.Append(released);
        if (matched is not null)
        {
            Finish(ToolCalls.Count > 0 ? "tool_calls" : "stop", matched);
            Handle.Cancel();
        }

        return released;
    }

    /// <summary>The sequence ended normally: releases the text held back and records why it ended.</summary>
    public string OnFinished(FinishedEvent finished)
    {
        // A character cut at the very end becomes U+FFFD; only then can held-back text still complete a stop string.
        var (tail, matched) = _stops.Add(_decoder.Flush());
        var rest = ReadCalls(matched is null ? tail + _stops.Flush() : tail, end: true);
        _text?.Append(rest);
        if (ToolCalls.Count > 0)
        {
            // As vLLM: an answer that made calls ends with tool_calls, whatever stopped it.
            Finish("tool_calls", (object?)matched ?? (IsModelEos(finished.StopTokenId) ? null : finished.StopTokenId));
        }
        else if (matched is not null)
        {
            Finish("stop", matched);
        }
        else if (finished.Reason == Core.Generation.FinishReason.Length)
        {
            Finish("length", null);
        }
        else
        {
            Finish("stop", IsModelEos(finished.StopTokenId) ? null : finished.StopTokenId);
        }

        return rest;
    }

    /// <summary>The sequence failed or was cancelled: nothing more will come.</summary>
    public void OnFailed() => Ended = true;

    /// <summary>Passes released text through the tool-call reader (when the request has tools): returns the content,
    /// and records the calls it completed; <paramref name="end"/> resolves whatever the reader still holds.</summary>
    private string ReadCalls(string text, bool end)
    {
        if (_tools is null)
        {
            return text;
        }

        var output = _tools.Add(text);
        var content = output.Content;
        Record(output.Calls);
        if (end)
        {
            var last = _tools.Finish();
            content += last.Content;
            Record(last.Calls);
        }

        return content;
    }

    private void Record(IReadOnlyList<ParsedToolCall> calls)
    {
        foreach (var call in calls)
        {
            ToolCalls.Add(new AnswerToolCall(ToolCalls.Count, AnswerToolCall.NewId(), call));
        }
    }

    private bool IsModelEos(int? id) => id is null || EosTokenIds.Contains(id.Value);

    private void Finish(string reason, object? stopReason)
    {
        FinishReason = reason;
        StopReason = stopReason;
        Ended = true;
    }
}
