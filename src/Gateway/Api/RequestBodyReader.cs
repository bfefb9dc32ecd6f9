using System.Buffers;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace Llama4Cluster.Gateway.Api;

/// <summary>Reads a request body as one JSON object, bounded by <see cref="ApiOptions.MaxRequestBodyBytes"/>.</summary>
internal static class RequestBodyReader
{
    /// <exception cref="ApiException">413 when the body is too large; 400 when it is empty, not JSON, or not an object.</exception>
    public static async Task<JsonDocument> ReadObjectAsync(HttpContext context, long maxBytes)
    {
        var request = context.Request;
        if (request.ContentLength is { } declared && declared > maxBytes)
        {
            throw TooLarge(maxBytes);
        }

        // Let the server read up to our own bound (Kestrel's default limit is 30 MB); we enforce the bound below,
        // so a chunked body is cut at maxBytes + 1 too.
        if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit)
        {
            limit.MaxRequestBodySize = maxBytes + 1;
        }

        var body = new ArrayBufferWriter<byte>((int)Math.Min(request.ContentLength ?? 4096, maxBytes) + 1);
        var reader = request.BodyReader;
        try
        {
            while (true)
            {
                var result = await reader.ReadAsync(context.RequestAborted);
                var buffer = result.Buffer;
                if (body.WrittenCount + buffer.Length > maxBytes)
                {
                    reader.AdvanceTo(buffer.End);
                    throw TooLarge(maxBytes);
                }

                foreach (var segment in buffer)
                {
                    body.Write(segment.Span);
                }

                reader.AdvanceTo(buffer.End);
                if (result.IsCompleted)
                {
                    break;
                }
            }
        }
        catch (BadHttpRequestException e) when (e.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            throw TooLarge(maxBytes);
        }
        catch (BadHttpRequestException e)
        {
            throw ApiException.BadRequest($"The request body could not be read: {e.Message}");
        }

        if (body.WrittenCount == 0)
        {
            throw ApiException.BadRequest("The request body is empty: send a JSON object (Content-Type: application/json).");
        }

        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(body.WrittenMemory, ApiJson.DocumentOptions);
        }
        catch (JsonException e)
        {
            throw ApiException.BadRequest($"The request body is not valid JSON: {e.Message}");
        }

        if (document.RootElement.ValueKind != JsonValueKind.Object)
        {
            var kind = document.RootElement.ValueKind;
            document.Dispose();
            throw ApiException.BadRequest($"The request body must be a JSON object; got {(kind == JsonValueKind.Array ? "an array" : "a " + kind.ToString().ToLowerInvariant())}.");
        }

        return document;
    }

    private static ApiException TooLarge(long maxBytes) => new(
        StatusCodes.Status413PayloadTooLarge,
        $"The request body is larger than this server accepts ({maxBytes} bytes); send a smaller request.",
        ApiException.InvalidRequest,
        code: "request_too_large");
}
