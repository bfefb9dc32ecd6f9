using System.Text;

namespace Llama4Cluster.Cli.Serving;

/// <summary>
/// Reads the data of server-sent events (WHATWG HTML, "Server-sent events", event stream interpretation): the
/// <c>data:</c> lines up to a blank line make one event, several joined by '\n'; comment lines (<c>: keep-alive</c>)
/// and other fields (<c>event:</c>, <c>id:</c>, <c>retry:</c>) are skipped. An event is returned as soon as its
/// blank line arrives, so the caller's clock reads the moment the whole event was received.
/// </summary>
public sealed class ServerSentEventReader(Stream stream) : IDisposable
{
    private readonly StreamReader _reader = new(stream, new UTF8Encoding(false), detectEncodingFromByteOrderMarks: false, bufferSize: 4096, leaveOpen: true);

    /// <summary>The next event's data, or null at the end of the stream (a last event without its blank line counts).</summary>
    public async Task<string?> ReadEventAsync(CancellationToken cancellationToken)
    {
        StringBuilder? data = null;
        while (true)
        {
            string? line = await _reader.ReadLineAsync(cancellationToken);
            if (line is null) return data?.ToString();
            if (line.Length == 0)
            {
                if (data is not null) return data.ToString();
                continue;
            }
            if (line[0] == ':') continue;
            int colon = line.IndexOf(':', StringComparison.Ordinal);
            if ((colon < 0 ? line : line[..colon]) != "data") continue;
            string value = colon < 0 ? "" : line[(colon + 1)..];
            if (value.StartsWith(' ')) value = value[1..];
            if (data is null) data = new StringBuilder(value);
            else data.Append('\n').Append(value);
        }
    }

    public void Dispose() => _reader.Dispose();
}
