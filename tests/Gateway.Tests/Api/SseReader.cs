using System.Text;
using System.Text.Json;

namespace Llama4Cluster.Gateway.Tests.Api;

/// <summary>Reads server-sent events off a response stream, checking the framing: every event is either
/// <c>data: ...</c> or the comment <c>: keep-alive</c>, terminated by a blank line. Reading gives up (fails the
/// test) after <see cref="Budget"/> so that a stream the server never ends cannot hang the run.</summary>
internal sealed class SseReader(Stream stream)
{
    public static readonly TimeSpan Budget = TimeSpan.FromSeconds(60);

    private readonly StreamReader _reader = new(stream, new UTF8Encoding(false));
    private readonly StringBuilder _event = new();
    private readonly CancellationTokenSource _deadline = new(Budget);

    /// <summary>Keep-alive comments seen so far.</summary>
    public int KeepAlives { get; private set; }

    /// <summary>The next event's data (without <c>data: </c>), skipping keep-alives; null at the end of the stream.</summary>
    public async Task<string?> NextDataAsync()
    {
        while (await NextEventAsync() is { } raw)
        {
            if (raw == ": keep-alive")
            {
                KeepAlives++;
                continue;
            }

            Assert.StartsWith("data: ", raw);
            return raw["data: ".Length..];
        }

        return null;
    }

    /// <summary>The next raw event (its lines joined by \n), or null at the end of the stream.</summary>
    public async Task<string?> NextEventAsync()
    {
        _event.Clear();
        while (await _reader.ReadLineAsync(_deadline.Token) is { } line)
        {
            if (line.Length == 0)
            {
                var raw = _event.ToString();
                Assert.True(raw.Length > 0, "an SSE event must not be empty");
                Assert.DoesNotContain('\n', raw); // one line per event: data: {json} or a comment
                return raw;
            }

            if (_event.Length > 0)
            {
                _event.Append('\n');
            }

            _event.Append(line);
        }

        Assert.True(_event.Length == 0, $"the stream ended inside an event: {_event}");
        return null;
    }

    /// <summary>Every data event up to <c>[DONE]</c> (which must be last), parsed; asserts nothing follows it.</summary>
    public async Task<List<JsonElement>> ReadAllChunksAsync()
    {
        var chunks = new List<JsonElement>();
        while (true)
        {
            var data = await NextDataAsync();
            Assert.NotNull(data); // the stream must end with [DONE]
            if (data == "[DONE]")
            {
                Assert.Null(await NextEventAsync());
                return chunks;
            }

            chunks.Add(JsonDocument.Parse(data).RootElement.Clone());
        }
    }
}
