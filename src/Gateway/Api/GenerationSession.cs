using System.Diagnostics;
using System.Threading.Channels;
using Llama4Cluster.Gateway.Model;
using Llama4Cluster.Core.Scheduling;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Llama4Cluster.Gateway.Api;

/// <summary>
/// Runs one completion request: submits its sequences, reads their events as they come (all choices merged, in
/// arrival order), detokenizes, applies stop strings, and writes either one JSON response or an SSE stream. Whatever
/// way it ends (finished, stop string, client gone, failure), no sequence of the request is left running.
/// </summary>
internal sealed class GenerationSession
{
    private readonly HttpContext _context;
    private readonly GenerationPlan _plan;
    private readonly ResponseFormat _format;
    private readonly ServedModel _model;
    private readonly IGenerationScheduler _scheduler;
    private readonly GatewayMetrics _metrics;
    private readonly ApiOptions _options;
    private readonly ILogger _logger;
    private readonly long _arrival;
    private readonly HashSet<int> _eos;
    private SseWriter? _sse;

    public GenerationSession(
        HttpContext context,
        GenerationPlan plan,
        ResponseFormat format,
        OpenAiEndpoints endpoints,
        long arrival)
    {
        _context = context;
        _plan = plan;
        _format = format;
        _model = endpoints.Model;
        _scheduler = endpoints.Scheduler;
        _metrics = endpoints.Metrics;
        _options = endpoints.Options;
        _logger = endpoints.Logger;
        _arrival = arrival;
        _eos = [.. _model.EosTokenIds];
    }

    public async Task RunAsync()
    {
        var aborted = _context.RequestAborted;
        var choices = Submit(aborted);
        using var stopPumps = CancellationTokenSource.CreateLinkedTokenSource(aborted);
        var events = Channel.CreateUnbounded<(int Slot, SequenceEvent Event)>(
            new UnboundedChannelOptions { SingleReader = true, SingleWriter = false });
        var pumps = new Task[choices.Length];
        for (var i = 0; i < choices.Length; i++)
        {
            pumps[i] = PumpAsync(i, choices[i].Handle, events.Writer, stopPumps.Token);
        }

        try
        {
            if (_plan.Parameters.Stream)
            {
                _sse = new SseWriter(_context);
                await StreamAsync(choices, events.Reader);
            }
            else
            {
                await CollectAsync(choices, events.Reader);
            }
        }
        catch (OperationCanceledException) when (aborted.IsCancellationRequested || _sse is { Started: true })
        {
            // The client went away (its request aborted, or the stream could not be written): nothing to answer.
        }
        finally
        {
            foreach (var choice in choices)
            {
                if (choice.FinishReason is null)
                {
                    choice.Handle.Cancel();
                    _metrics.RecordFinished("abort", Elapsed(_arrival), PromptLength(choice), choice.CompletionTokens);
                }
            }

            await stopPumps.CancelAsync();
            await Task.WhenAll(pumps);
        }
    }

    private ChoiceState[] Submit(CancellationToken aborted)
    {
        var choices = new List<ChoiceState>(_plan.Sequences.Count);
        try
        {
            foreach (var sequence in _plan.Sequences)
            {
                var prompt = _plan.Prompts[sequence.PromptIndex];
                var handle = _scheduler.Submit(new SequenceSubmission(
                    prompt.TokenIds, sequence.Sampling, _options.DefaultRequestTimeout, aborted, _plan.Parameters.Guidance, prompt.Images));
                choices.Add(new ChoiceState(sequence, handle, _model.Tokenizer, _plan.Parameters, keepText: !_plan.Parameters.Stream, _plan.Tools)
                {
                    EosTokenIds = _eos,
                });
            }
        }
        catch (Exception e)
        {
            foreach (var choice in choices)
            {
                choice.Handle.Cancel();
            }

            throw e switch
            {
                SchedulerQueueFullException full => new ApiException(
                    StatusCodes.Status429TooManyRequests, full.Message, "rate_limit_error", code: "rate_limit_exceeded")
                {
                    Headers = [new("Retry-After", Math.Max(1, (int)Math.Ceiling(full.RetryAfter.TotalSeconds)).ToString(System.Globalization.CultureInfo.InvariantCulture))],
                },
                ArgumentException invalid => ApiException.BadRequest(invalid.Message),
                _ => Unavailable(e),
            };
        }

        return [.. choices];
    }

    private async Task CollectAsync(ChoiceState[] choices, ChannelReader<(int Slot, SequenceEvent Event)> events)
    {
        var open = choices.Length;
        while (open > 0)
        {
            var (slot, sequenceEvent) = await NextAsync(events);
            var choice = choices[slot];
            if (choice.Ended)
            {
                continue; // after a stop string matched, until the cancellation reaches the scheduler
            }

            if (sequenceEvent is FailedEvent failed)
            {
                choice.OnFailed();
                throw Failure(failed.Error, choice);
            }

            Apply(choice, sequenceEvent);
            if (choice.Ended)
            {
                open--;
            }
        }

        var response = _context.Response;
        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = "application/json";
        using (var json = new System.Text.Json.Utf8JsonWriter(response.BodyWriter, ApiJson.WriterOptions))
        {
            _format.WriteResponse(json, _plan, choices);
        }

        await response.BodyWriter.FlushAsync(_context.RequestAborted);
    }

    private async Task StreamAsync(ChoiceState[] choices, ChannelReader<(int Slot, SequenceEvent Event)> events)
    {
        var sse = _sse!;
        var opened = false;
        var open = choices.Length;
        try
        {
            while (open > 0)
            {
                var (slot, sequenceEvent) = await NextAsync(events);
                var choice = choices[slot];
                if (choice.Ended)
                {
                    continue;
                }

                if (sequenceEvent is FailedEvent failed)
                {
                    choice.OnFailed();
                    var error = Failure(failed.Error, choice);
                    if (!sse.Started)
                    {
                        throw error; // nothing sent yet: a plain HTTP error
                    }

                    await WriteErrorEventAsync(sse, error);
                    return;
                }

                if (!opened)
                {
                    opened = true;
                    if (_format.HasOpeningChunk(_plan))
                    {
                        foreach (var each in choices)
                        {
                            _format.WriteOpeningChunk(sse.BeginEvent(), _plan, each);
                            await sse.EndEventAsync();
                        }
                    }
                }

                var text = Apply(choice, sequenceEvent);
                if (choice.Ended)
                {
                    open--;
                }

                foreach (var chunk in _format.StreamChunks(choice, text, final: choice.Ended))
                {
                    _format.WriteChunk(sse.BeginEvent(), choice, chunk);
                    await sse.EndEventAsync();
                }
            }

            if (_plan.Parameters.IncludeUsage)
            {
                _format.WriteUsageChunk(sse.BeginEvent(), _plan, choices);
                await sse.EndEventAsync();
            }

            await sse.WriteDoneAsync();
        }
        catch (Exception e) when (sse.Started && e is not OperationCanceledException)
        {
            // Headers are out: the error can only travel as an event.
            LogUnexpected(e);
            await WriteErrorEventAsync(sse, e as ApiException ?? new ApiException(
                StatusCodes.Status500InternalServerError, $"The server failed while streaming: {e.Message}", ApiException.ServerError, code: "internal_error"));
        }
    }

    /// <summary>Applies a token or finished event to its choice, records its metrics, and returns the text it released.</summary>
    private string Apply(ChoiceState choice, SequenceEvent sequenceEvent)
    {
        var now = Stopwatch.GetTimestamp();
        switch (sequenceEvent)
        {
            case TokenEvent token:
                if (choice.LastTokenAt == 0)
                {
                    _metrics.RecordFirstToken(Stopwatch.GetElapsedTime(_arrival, now), PromptLength(choice), choice.Handle.CachedTokens);
                }
                else
                {
                    var gap = Stopwatch.GetElapsedTime(choice.LastTokenAt, now);
                    _metrics.RecordNextToken(gap);
                    if (gap > choice.LongestGap) choice.LongestGap = gap;
                }

                choice.LastTokenAt = now;
                var text = choice.OnToken(token.Token);
                if (choice.Ended)
                {
                    Finished(choice, now);
                }

                return text;
            case FinishedEvent finished:
                var rest = choice.OnFinished(finished);
                Finished(choice, now);
                return rest;
            default:
                throw new InvalidOperationException($"Unknown sequence event {sequenceEvent.GetType().Name}.");
        }
    }

    private void Finished(ChoiceState choice, long now) =>
        _metrics.RecordFinished(choice.FinishReason!, Stopwatch.GetElapsedTime(_arrival, now), PromptLength(choice), choice.CompletionTokens, choice.LongestGap);

    /// <summary>The next event of any choice. While streaming, a keep-alive comment goes out after each
    /// <see cref="ApiOptions.KeepAliveInterval"/> without one.</summary>
    private async ValueTask<(int Slot, SequenceEvent Event)> NextAsync(ChannelReader<(int Slot, SequenceEvent Event)> events)
    {
        var aborted = _context.RequestAborted;
        while (true)
        {
            if (events.TryRead(out var item))
            {
                return item;
            }

            var ready = events.WaitToReadAsync(aborted);
            if (_sse is null || ready.IsCompleted)
            {
                await ready;
                continue;
            }

            var waiting = ready.AsTask();
            while (true)
            {
                try
                {
                    await waiting.WaitAsync(_options.KeepAliveInterval, aborted);
                    break;
                }
                catch (TimeoutException)
                {
                    await _sse.WriteKeepAliveAsync();
                }
            }
        }
    }

    /// <summary>Copies one sequence's events into the request's merged channel until its end event.</summary>
    private static async Task PumpAsync(int slot, SequenceHandle handle, ChannelWriter<(int, SequenceEvent)> output, CancellationToken stop)
    {
        try
        {
            await foreach (var sequenceEvent in handle.Events.ReadAllAsync(stop))
            {
                output.TryWrite((slot, sequenceEvent));
                if (sequenceEvent is FinishedEvent or FailedEvent)
                {
                    return;
                }
            }

            output.TryWrite((slot, new FailedEvent(new InvalidOperationException("The scheduler ended the sequence without a final event."))));
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            // The request is over.
        }
        catch (Exception e)
        {
            output.TryWrite((slot, new FailedEvent(e)));
        }
    }

    /// <summary>The HTTP error for a failed sequence.</summary>
    private ApiException Failure(Exception error, ChoiceState choice) => error switch
    {
        TimeoutException => new ApiException(
            StatusCodes.Status504GatewayTimeout,
            $"The request timed out after {choice.CompletionTokens} generated tokens: {error.Message}",
            ApiException.ServerError,
            code: "timeout"),
        OperationCanceledException => new ApiException(
            StatusCodes.Status503ServiceUnavailable,
            "The server cancelled the request (it may be shutting down); retry it.",
            ApiException.ServerError,
            code: "service_unavailable"),
        _ => Unavailable(error),
    };

    private ApiException Unavailable(Exception error)
    {
        LogFailure(error);
        return new ApiException(
            StatusCodes.Status503ServiceUnavailable,
            $"The model cluster failed to generate: {error.Message}",
            ApiException.ServerError,
            code: "service_unavailable");
    }

    private async Task WriteErrorEventAsync(SseWriter sse, ApiException error)
    {
        OpenAiErrors.Write(sse.BeginEvent(), error.Message, error.Type, error.Param, error.Code);
        await sse.EndEventAsync();
        await sse.WriteDoneAsync();
    }

    private int PromptLength(ChoiceState choice) => _plan.Prompts[choice.PromptIndex].TokenIds.Count;

    private static TimeSpan Elapsed(long since) => Stopwatch.GetElapsedTime(since);

    private void LogFailure(Exception error) => ApiLog.GenerationFailed(_logger, _context.Request.Path, error);

    private void LogUnexpected(Exception error)
    {
        if (error is not ApiException)
        {
            ApiLog.Unexpected(_logger, _context.Request.Method, _context.Request.Path, error);
        }
    }
}
