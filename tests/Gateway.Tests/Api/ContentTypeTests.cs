using System.Net;
using System.Text;
using System.Text.Json;

namespace Llama4Cluster.Gateway.Tests.Api;

/// <summary>
/// Generation requests must declare JSON (or nothing): any other <c>Content-Type</c> gets 415 with an OpenAI error body
/// before the body is read. <c>curl -d</c> without a header declares <c>application/x-www-form-urlencoded</c>.
/// </summary>
[Collection(ApiCollection.Name)]
public sealed class ContentTypeTests(ApiServerFixture server) : ApiTestBase(server)
{
    private const string Chat = "/v1/chat/completions";
    private const string Completions = "/v1/completions";

    [Theory]
    [InlineData(Chat, "application/x-www-form-urlencoded", "application/x-www-form-urlencoded is not JSON")]
    [InlineData(Completions, "application/x-www-form-urlencoded", "application/x-www-form-urlencoded is not JSON")]
    [InlineData(Chat, "text/plain", "text/plain is not JSON")]
    [InlineData(Completions, "text/json", "text/json is not JSON")]
    [InlineData(Chat, "multipart/form-data; boundary=x", "multipart/form-data is not JSON")]
    [InlineData(Chat, "application/xml", "application/xml is not JSON")]
    [InlineData(Completions, "application/json; charset=utf-16", "charset utf-16 is not supported")]
    [InlineData(Chat, "application/json; charset=\"latin1\"", "charset latin1 is not supported")]
    [InlineData(Chat, "json", "\"json\" is not a media type")]
    public async Task ANonJsonContentTypeIs415WithAnOpenAiError(string path, string contentType, string message)
    {
        var (status, body) = await SendAsync(path, Body(path, NewMarker("ct")), contentType);

        Assert.Equal(HttpStatusCode.UnsupportedMediaType, status);
        AssertError(body, "invalid_request_error", null, "unsupported_media_type", message);
        Assert.Contains("Content-Type: application/json", body.GetProperty("error").GetProperty("message").GetString());
        await AssertServerAnswersAsync();
    }

    [Theory]
    [InlineData(Chat, "application/json")]
    [InlineData(Chat, "application/json; charset=utf-8")]
    [InlineData(Completions, "Application/JSON;Charset=\"UTF-8\"")]
    [InlineData(Completions, "application/json; charset=utf8")]
    [InlineData(Chat, "application/vnd.api+json")]
    [InlineData(Chat, null)]
    [InlineData(Completions, null)]
    public async Task JsonOrNoContentTypeIsServed(string path, string? contentType)
    {
        var marker = NewMarker("ct-ok");
        Scheduler.On(marker, TextScript("Hello world"));

        var (status, body) = await SendAsync(path, Body(path, marker), contentType);

        Assert.Equal(HttpStatusCode.OK, status);
        var choice = body.GetProperty("choices")[0];
        var text = path == Chat ? choice.GetProperty("message").GetProperty("content").GetString() : choice.GetProperty("text").GetString();
        Assert.Equal("Hello world", text);
    }

    [Fact]
    public async Task TheApiKeyIsCheckedBeforeTheContentType()
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, Chat) { Content = new StringContent("a=1", Encoding.UTF8, "text/plain") };
        using var response = await Server.Anonymous.SendAsync(request);

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
    }

    private static string Body(string path, string marker) => path == Chat
        ? ChatBody(marker)
        : $$"""{"model":"{{ApiServerFixture.ModelId}}","prompt":"{{marker}}","max_tokens":8}""";

    /// <summary>Posts <paramref name="json"/>'s bytes with exactly <paramref name="contentType"/> (none when null).</summary>
    private async Task<(HttpStatusCode Status, JsonElement Body)> SendAsync(string path, string json, string? contentType)
    {
        var content = new ByteArrayContent(Encoding.UTF8.GetBytes(json));
        if (contentType is not null)
        {
            content.Headers.TryAddWithoutValidation("Content-Type", contentType);
        }

        using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = content };
        using var response = await Server.Client.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        return (response.StatusCode, JsonDocument.Parse(text).RootElement.Clone());
    }
}
