using System.Buffers;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace Llama4Cluster.Gateway.Api;

/// <summary>
/// Server-sent events on a response: <c>data: {json}\n\n</c> events, <c>: keep-alive</c> comments and the final
/// <c>data: [DONE]</c>, each flushed at once. The headers go out with the first write.
/// </summary>
internal sealed class SseWriter(HttpContext context)
{
    private static readonly byte[] DataPrefix = "data: "u8.ToArray();
    private static readonly byte[] EventEnd = "\n\n"u8.ToArray();
    private static readonly byte[] Done = "data: [DONE]\n\n"u8.ToArray();
    private static readonly byte[] KeepAlive = ": keep-alive\n\n"u8.ToArray();

    private Utf8JsonWriter? _json;

    /// <summary>True once the headers (200, text/event-stream) are committed.</summary>
    public bool Started { get; private set; }

    /// <summary>Starts an event; write one JSON value into the returned writer, then call <see cref="EndEventAsync"/>.</summary>
    public Utf8JsonWriter BeginEvent()
    {
        Start();
        var body = context.Response.BodyWriter;
        body.Write(DataPrefix);
        if (_json is null)
        {
            _json = new Utf8JsonWriter(body, ApiJson.WriterOptions);
        }
        else
        {
            _json.Reset(body);
        }

        return _json;
    }

    public ValueTask EndEventAsync()
    {
        _json!.Flush();
        context.Response.BodyWriter.Write(EventEnd);
        return FlushAsync();
    }

    public ValueTask WriteKeepAliveAsync() => WriteRawAsync(KeepAlive);

    public ValueTask WriteDoneAsync() => WriteRawAsync(Done);

    private ValueTask WriteRawAsync(byte[] bytes)
    {
        Start();
        context.Response.BodyWriter.Write(bytes);
        return FlushAsync();
    }

    private async ValueTask FlushAsync()
    {
        var result = await context.Response.BodyWriter.FlushAsync(context.RequestAborted);
        if (result.IsCanceled || result.IsCompleted)
        {
            // The client went away: the caller's cancellation path frees the sequences.
            throw new OperationCanceledException("the client closed the stream", context.RequestAborted);
        }
    }

    private void Start()
    {
        if (Started)
        {
            return;
        }

        Started = true;
        var response = context.Response;
        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = "text/event-stream; charset=utf-8";
        response.Headers.CacheControl = "no-cache";
        response.Headers["X-Accel-Buffering"] = "no"; // nginx: pass each event through
        context.Features.Get<IHttpResponseBodyFeature>()?.DisableBuffering();
    }
}
