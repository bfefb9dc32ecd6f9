using System.Text.Json;
using Microsoft.AspNetCore.Http;

namespace Llama4Cluster.Gateway.Api;

/// <summary>Writes OpenAI error bodies: <c>{"error": {"message", "type", "param", "code"}}</c>.</summary>
internal static class OpenAiErrors
{
    /// <summary>The error object, as a response body or an SSE event.</summary>
    public static void Write(Utf8JsonWriter json, string message, string type, string? param, string? code)
    {
        json.WriteStartObject();
        json.WriteStartObject("error");
        json.WriteString("message", message);
        json.WriteString("type", type);
        WriteNullable(json, "param", param);
        WriteNullable(json, "code", code);
        json.WriteEndObject();
        json.WriteEndObject();
    }

    /// <summary>Answers the request with <paramref name="error"/>'s status, headers and body.</summary>
    public static Task WriteAsync(HttpContext context, ApiException error) =>
        WriteAsync(context, error.StatusCode, error.Message, error.Type, error.Param, error.Code, error.Headers);

    public static async Task WriteAsync(
        HttpContext context,
        int statusCode,
        string message,
        string type,
        string? param,
        string? code,
        IReadOnlyList<KeyValuePair<string, string>>? headers = null)
    {
        var response = context.Response;
        if (response.HasStarted)
        {
            return;
        }

        response.StatusCode = statusCode;
        response.ContentType = "application/json";
        foreach (var (name, value) in headers ?? [])
        {
            response.Headers[name] = value;
        }

        using (var json = new Utf8JsonWriter(response.BodyWriter, ApiJson.WriterOptions))
        {
            Write(json, message, type, param, code);
        }

        await response.BodyWriter.FlushAsync(context.RequestAborted);
    }

    private static void WriteNullable(Utf8JsonWriter json, string name, string? value)
    {
        if (value is null)
        {
            json.WriteNull(name);
        }
        else
        {
            json.WriteString(name, value);
        }
    }
}
