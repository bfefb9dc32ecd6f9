using Microsoft.AspNetCore.Http;

namespace Llama4Cluster.Gateway.Api;

/// <summary>
/// A request the API answers with an OpenAI error body (<c>{"error": {"message", "type", "param", "code"}}</c>)
/// and <see cref="StatusCode"/>. Thrown while reading and checking a request, before anything is written.
/// </summary>
internal sealed class ApiException(int statusCode, string message, string type, string? param = null, string? code = null)
    : Exception(message)
{
    public const string InvalidRequest = "invalid_request_error";
    public const string ServerError = "server_error";

    public int StatusCode { get; } = statusCode;

    public string Type { get; } = type;

    public string? Param { get; } = param;

    public string? Code { get; } = code;

    /// <summary>Extra response headers (e.g. <c>Retry-After</c>).</summary>
    public IReadOnlyList<KeyValuePair<string, string>> Headers { get; init; } = [];

    /// <summary>400: a missing, mistyped or out-of-range parameter; <paramref name="param"/> names it.</summary>
    public static ApiException BadRequest(string message, string? param = null, string? code = null) =>
        new(StatusCodes.Status400BadRequest, message, InvalidRequest, param, code);

    /// <summary>400: <paramref name="param"/> has the wrong JSON type.</summary>
    public static ApiException WrongType(string param, string expected, System.Text.Json.JsonValueKind got) =>
        BadRequest($"{param} must be {expected}; got {Describe(got)}.", param);

    private static string Describe(System.Text.Json.JsonValueKind kind) => kind switch
    {
        System.Text.Json.JsonValueKind.String => "a string",
        System.Text.Json.JsonValueKind.Number => "a number",
        System.Text.Json.JsonValueKind.True or System.Text.Json.JsonValueKind.False => "a boolean",
        System.Text.Json.JsonValueKind.Array => "an array",
        System.Text.Json.JsonValueKind.Object => "an object",
        System.Text.Json.JsonValueKind.Null => "null",
        _ => "nothing",
    };
}
