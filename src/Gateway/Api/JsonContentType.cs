using Microsoft.AspNetCore.Http;
using Microsoft.Net.Http.Headers;

namespace Llama4Cluster.Gateway.Api;

/// <summary>
/// The <c>Content-Type</c> a generation request may declare: <c>application/json</c> or an <c>application/*+json</c> type,
/// with no charset or UTF-8 (RFC 8259: JSON exchanged between systems is UTF-8). Anything else is answered 415 before the
/// body is read, rather than parsed as JSON regardless. A request with no <c>Content-Type</c> is read as JSON, as vLLM
/// (FastAPI) reads it; note that <c>curl -d</c> without <c>-H 'Content-Type: application/json'</c> declares
/// <c>application/x-www-form-urlencoded</c> and therefore gets the 415, which says what to send.
/// </summary>
internal static class JsonContentType
{
    /// <exception cref="ApiException">415 <c>unsupported_media_type</c> naming the declared type.</exception>
    public static void Require(HttpRequest request)
    {
        var declared = request.ContentType;
        if (string.IsNullOrWhiteSpace(declared))
        {
            return;
        }

        if (!MediaTypeHeaderValue.TryParse(declared, out var media))
        {
            throw Unsupported($"Content-Type \"{declared}\" is not a media type");
        }

        var isJson = media.Type.Equals("application", StringComparison.OrdinalIgnoreCase)
            && (media.SubType.Equals("json", StringComparison.OrdinalIgnoreCase)
                || media.Suffix.Equals("json", StringComparison.OrdinalIgnoreCase));
        if (!isJson)
        {
            throw Unsupported($"Content-Type {media.MediaType} is not JSON");
        }

        var charset = HeaderUtilities.RemoveQuotes(media.Charset);
        if (charset.HasValue
            && !charset.Equals("utf-8", StringComparison.OrdinalIgnoreCase)
            && !charset.Equals("utf8", StringComparison.OrdinalIgnoreCase))
        {
            throw Unsupported($"charset {charset} is not supported: the body must be UTF-8");
        }
    }

    private static ApiException Unsupported(string problem) => new(
        StatusCodes.Status415UnsupportedMediaType,
        $"{problem}. Send the request as a JSON object with \"Content-Type: application/json\" (curl: -H 'Content-Type: application/json').",
        ApiException.InvalidRequest,
        code: "unsupported_media_type");
}
