using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Llama4Cluster.Cli.Tests.Serving;

/// <summary>
/// A scripted OpenAI server on 127.0.0.1 (an OS-chosen port): <c>POST /v1/completions</c> streams the
/// <see cref="FakeCompletionScript"/> chosen by the request's arrival index, <c>GET /v1/models</c> lists one model,
/// <c>GET /info</c> answers the given JSON or 404. It records every request body and how many requests were in flight.
/// </summary>
internal sealed class FakeCompletionServer : IAsyncDisposable
{
    public const string Model = "fake-model";

    private readonly Func<int, FakeCompletionScript> _script;
    private readonly string? _info;
    private readonly int _holdUntilInFlight;
    private readonly TaskCompletionSource _held = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly ConcurrentDictionary<int, JsonElement> _bodies = new();
    private readonly ConcurrentDictionary<int, long> _firstTokenWrites = new();
    private WebApplication? _app;
    private int _arrivals = -1, _inFlight, _maxInFlight;

    private FakeCompletionServer(Func<int, FakeCompletionScript> script, string? info, int holdUntilInFlight)
    {
        _script = script;
        _info = info;
        _holdUntilInFlight = holdUntilInFlight;
    }

    public Uri Url { get; private set; } = null!;

    /// <summary>Request bodies by arrival index.</summary>
    public IReadOnlyDictionary<int, JsonElement> Bodies => _bodies;

    /// <summary>By arrival index: the <see cref="Stopwatch"/> timestamp taken just before the first token event was written.</summary>
    public IReadOnlyDictionary<int, long> FirstTokenWrites => _firstTokenWrites;

    public int Arrivals => Volatile.Read(ref _arrivals) + 1;
    public int InFlight => Volatile.Read(ref _inFlight);
    public int MaxInFlight => Volatile.Read(ref _maxInFlight);

    /// <param name="holdUntilInFlight">The first this-many requests wait (at most 10 s) until this many are in flight at once.</param>
    public static async Task<FakeCompletionServer> StartAsync(Func<int, FakeCompletionScript> script, string? info = null, int holdUntilInFlight = 0)
    {
        var server = new FakeCompletionServer(script, info, holdUntilInFlight);
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0));
        var app = builder.Build();
        app.MapPost("/v1/completions", (RequestDelegate)server.CompletionsAsync);
        app.MapGet("/v1/models", (RequestDelegate)(ctx => ctx.Response.WriteAsJsonAsync(new
        {
            @object = "list",
            data = new[] { new { id = Model, @object = "model", owned_by = "test", max_model_len = 4096 } },
        })));
        app.MapGet("/info", (RequestDelegate)(ctx =>
        {
            if (server._info is null)
            {
                ctx.Response.StatusCode = 404;
                return Task.CompletedTask;
            }
            ctx.Response.ContentType = "application/json";
            return ctx.Response.WriteAsync(server._info);
        }));
        await app.StartAsync();
        server._app = app;
        string address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        server.Url = new Uri(address.EndsWith('/') ? address : address + "/");
        return server;
    }

    private async Task CompletionsAsync(HttpContext ctx)
    {
        int index = Interlocked.Increment(ref _arrivals);
        int now = Interlocked.Increment(ref _inFlight);
        for (int seen = MaxInFlight; now > seen; seen = MaxInFlight)
            Interlocked.CompareExchange(ref _maxInFlight, now, seen);
        // In flight until the last byte of the answer is about to be written: the client may send its next request
        // as soon as it reads that byte, so the count must already be down by then.
        bool done = false;
        void Done()
        {
            if (!done) Interlocked.Decrement(ref _inFlight);
            done = true;
        }
        try
        {
            using var body = await JsonDocument.ParseAsync(ctx.Request.Body, cancellationToken: ctx.RequestAborted);
            _bodies[index] = body.RootElement.Clone();
            if (index < _holdUntilInFlight)
            {
                if (now >= _holdUntilInFlight) _held.TrySetResult();
                await Task.WhenAny(_held.Task, Task.Delay(TimeSpan.FromSeconds(10), ctx.RequestAborted));
            }
            var s = _script(index);
            if (s.Status != 200)
            {
                ctx.Response.StatusCode = s.Status;
                Done();
                await ctx.Response.WriteAsJsonAsync(new { error = new { message = $"scripted failure of request {index}", type = "server_error", param = (string?)null, code = (string?)null } });
                return;
            }
            ctx.Response.ContentType = "text/event-stream";
            await WriteAsync(ctx, ": keep-alive\n\n", split: false);
            if (s.Stall)
            {
                await Task.Delay(Timeout.Infinite, ctx.RequestAborted);
                return;
            }
            if (s.FirstTokenDelayMs > 0) await Task.Delay(s.FirstTokenDelayMs, ctx.RequestAborted);
            for (int i = 0; i < s.Texts.Count; i++)
            {
                if (i > 0 && s.TokenDelayMs > 0) await Task.Delay(s.TokenDelayMs, ctx.RequestAborted);
                if (i == 0) _firstTokenWrites[index] = Stopwatch.GetTimestamp();
                await EventAsync(ctx, Chunk(s.Texts[i], null), s.SplitEvents);
            }
            if (s.ErrorEvent is not null)
            {
                Done();
                await EventAsync(ctx, new { error = new { message = s.ErrorEvent, type = "server_error" } }, s.SplitEvents);
                return;
            }
            if (s.SendFinishEvent)
            {
                if (!s.SendUsage && !s.SendDone) Done();
                await EventAsync(ctx, Chunk("", "length"), s.SplitEvents);
            }
            if (s.SendUsage)
            {
                if (!s.SendDone) Done();
                int prompt = body.RootElement.GetProperty("prompt").GetArrayLength();
                await EventAsync(ctx, new
                {
                    id = "cmpl-fake", @object = "text_completion", created = 0, model = Model, choices = Array.Empty<object>(),
                    usage = new { prompt_tokens = prompt, completion_tokens = s.CompletionTokens, total_tokens = prompt + s.CompletionTokens },
                }, s.SplitEvents);
            }
            Done();
            if (s.SendDone) await WriteAsync(ctx, "data: [DONE]\n\n", s.SplitEvents);
        }
        catch (OperationCanceledException) when (ctx.RequestAborted.IsCancellationRequested)
        {
            // The client gave up (its timeout): nothing more to send.
        }
        finally
        {
            Done();
        }
    }

    private static object Chunk(string text, string? finishReason) => new
    {
        id = "cmpl-fake", @object = "text_completion", created = 0, model = Model,
        choices = new[] { new { index = 0, text, logprobs = (object?)null, finish_reason = finishReason } },
    };

    private static Task EventAsync(HttpContext ctx, object payload, bool split) =>
        WriteAsync(ctx, "data: " + JsonSerializer.Serialize(payload) + "\n\n", split);

    private static async Task WriteAsync(HttpContext ctx, string text, bool split)
    {
        if (split && text.Length > 1)
        {
            await ctx.Response.WriteAsync(text[..(text.Length / 2)], ctx.RequestAborted);
            await ctx.Response.Body.FlushAsync(ctx.RequestAborted);
            text = text[(text.Length / 2)..];
        }
        await ctx.Response.WriteAsync(text, ctx.RequestAborted);
        await ctx.Response.Body.FlushAsync(ctx.RequestAborted);
    }

    public async ValueTask DisposeAsync()
    {
        if (_app is null) return;
        await _app.StopAsync(new CancellationTokenSource(TimeSpan.FromSeconds(5)).Token);
        await _app.DisposeAsync();
    }
}
