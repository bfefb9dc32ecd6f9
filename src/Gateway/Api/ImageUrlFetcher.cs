using System.Net;
using System.Text.Json;

namespace Llama4Cluster.Gateway.Api;

/// <summary>
/// Fetches the http(s) image URLs of a chat request before it is read (<see cref="ApiOptions.AllowImageUrls"/>): all of them
/// within <see cref="ApiOptions.ImageUrlTimeout"/>, each at most <see cref="RequestLimits.MaxImageBytes"/>, at most
/// <see cref="RequestLimits.MaxImages"/> of them. A URL that cannot be fetched is a 400 naming it.
/// </summary>
internal static class ImageUrlFetcher
{
    private static readonly HttpClient Client = new(new SocketsHttpHandler { AllowAutoRedirect = true, MaxAutomaticRedirections = 3 })
    {
        Timeout = Timeout.InfiniteTimeSpan, // bounded per request by ApiOptions.ImageUrlTimeout
    };

    /// <summary>The bytes of every http(s) image URL in <paramref name="body"/>'s messages; null when remote images are not
    /// allowed (the reader then refuses such URLs).</summary>
    public static async Task<IReadOnlyDictionary<string, byte[]>?> FetchAsync(JsonElement body, ApiOptions options, CancellationToken aborted)
    {
        if (!options.AllowImageUrls) return null;
        var urls = Urls(body).Distinct(StringComparer.Ordinal).ToList();
        var fetched = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        if (urls.Count == 0) return fetched;
        if (urls.Count > options.Limits.MaxImages)
            throw ApiException.BadRequest($"messages: {urls.Count} image URLs; at most {options.Limits.MaxImages} images are accepted in one request.", "messages");
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(aborted);
        deadline.CancelAfter(options.ImageUrlTimeout);
        var tasks = urls.Select(u => FetchOneAsync(u, options.Limits.MaxImageBytes, options.ImageUrlTimeout, deadline.Token, aborted)).ToArray();
        var bytes = await Task.WhenAll(tasks);
        for (int i = 0; i < urls.Count; i++) fetched[urls[i]] = bytes[i];
        return fetched;
    }

    private static async Task<byte[]> FetchOneAsync(string url, int maxBytes, TimeSpan timeout, CancellationToken deadline, CancellationToken aborted)
    {
        try
        {
            using var response = await Client.GetAsync(url, HttpCompletionOption.ResponseHeadersRead, deadline);
            if (response.StatusCode != HttpStatusCode.OK)
                throw ApiException.BadRequest($"image URL {url} answered {(int)response.StatusCode} {response.ReasonPhrase}.", "messages");
            if (response.Content.Headers.ContentLength > maxBytes)
                throw ApiException.BadRequest($"image URL {url} is {response.Content.Headers.ContentLength} bytes; at most {maxBytes} are accepted.", "messages");
            await using var stream = await response.Content.ReadAsStreamAsync(deadline);
            using var buffer = new MemoryStream();
            var chunk = new byte[81920];
            int read;
            while ((read = await stream.ReadAsync(chunk, deadline)) > 0)
            {
                if (buffer.Length + read > maxBytes)
                    throw ApiException.BadRequest($"image URL {url} is more than {maxBytes} bytes; at most {maxBytes} are accepted.", "messages");
                buffer.Write(chunk, 0, read);
            }

            return buffer.ToArray();
        }
        catch (OperationCanceledException) when (!aborted.IsCancellationRequested)
        {
            throw ApiException.BadRequest($"image URL {url} was not fetched within {timeout.TotalSeconds:0.#} s.", "messages");
        }
        catch (HttpRequestException e)
        {
            throw ApiException.BadRequest($"image URL {url} could not be fetched: {e.Message}", "messages");
        }
    }

    /// <summary>http(s) URLs of the <c>image_url</c> parts of <c>messages</c> (the reader checks everything else).</summary>
    private static IEnumerable<string> Urls(JsonElement body)
    {
        if (body.ValueKind != JsonValueKind.Object || !body.TryGetProperty("messages", out var messages) || messages.ValueKind != JsonValueKind.Array)
            yield break;
        foreach (var message in messages.EnumerateArray())
        {
            if (message.ValueKind != JsonValueKind.Object || !message.TryGetProperty("content", out var content) || content.ValueKind != JsonValueKind.Array)
                continue;
            foreach (var part in content.EnumerateArray())
            {
                if (part.ValueKind != JsonValueKind.Object) continue;
                foreach (var name in new[] { "image_url", "image" })
                {
                    if (!part.TryGetProperty(name, out var value)) continue;
                    var url = value.ValueKind == JsonValueKind.String ? value.GetString()
                        : value.ValueKind == JsonValueKind.Object && value.TryGetProperty("url", out var u) && u.ValueKind == JsonValueKind.String ? u.GetString()
                        : null;
                    if (url is not null && (url.StartsWith("http://", StringComparison.OrdinalIgnoreCase) || url.StartsWith("https://", StringComparison.OrdinalIgnoreCase)))
                        yield return url;
                }
            }
        }
    }
}
