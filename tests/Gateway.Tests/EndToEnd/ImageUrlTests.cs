using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text.Json;
using System.Text.Json.Nodes;
using Llama4Cluster.Gateway.Tests.Hosting;

namespace Llama4Cluster.Gateway.Tests.EndToEnd;

/// <summary>
/// <c>--allow-image-urls true</c>: the gateway fetches an image part's http(s) URL (here from a listener in the test) and the
/// reply equals the one for the same bytes sent inline; a URL that answers 404 or sends more than the byte limit is a 400
/// naming it; the model card says URLs are taken.
/// </summary>
public sealed class ImageUrlTests : IAsyncLifetime
{
    private readonly string _cache = Path.Combine(Path.GetTempPath(), "l4c-gw-url-" + Guid.NewGuid().ToString("N")[..12]);
    private readonly HttpListener _server = new();
    private readonly byte[] _png = ImageChatTests.Png(90, 60, seed: 7);
    private InProcessGateway _gateway = null!;
    private string _base = "";

    public async Task InitializeAsync()
    {
        int port = FreePort();
        _base = $"http://127.0.0.1:{port}/";
        _server.Prefixes.Add(_base);
        _server.Start();
        _ = Task.Run(ServeAsync);
        _gateway = await InProcessGateway.StartAsync(["--cache-dir", _cache, "--allow-image-urls", "true"]);
        await _gateway.WaitReadyAsync();
    }

    public async Task DisposeAsync()
    {
        await _gateway.DisposeAsync();
        _server.Stop();
        _server.Close();
        if (Directory.Exists(_cache)) Directory.Delete(_cache, recursive: true);
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary><c>/cat.png</c> is the picture, <c>/big.png</c> 30 MB of it, anything else 404.</summary>
    private async Task ServeAsync()
    {
        while (_server.IsListening)
        {
            HttpListenerContext context;
            try
            {
                context = await _server.GetContextAsync();
            }
            catch (Exception e) when (e is HttpListenerException or ObjectDisposedException or InvalidOperationException)
            {
                return;
            }

            var response = context.Response;
            byte[]? body = context.Request.Url!.AbsolutePath switch
            {
                "/cat.png" => _png,
                "/big.png" => new byte[30 << 20],
                _ => null,
            };
            response.StatusCode = body is null ? 404 : 200;
            if (body is not null)
            {
                response.ContentType = "image/png";
                response.ContentLength64 = body.Length;
                await response.OutputStream.WriteAsync(body);
            }

            response.Close();
        }
    }

    private async Task<(HttpStatusCode Status, JsonElement Body)> ChatAsync(string url)
    {
        var body = new JsonObject
        {
            ["model"] = "tiny-scout", ["max_tokens"] = 4, ["temperature"] = 0, ["logprobs"] = true,
            ["messages"] = new JsonArray(new JsonObject
            {
                ["role"] = "user",
                ["content"] = new JsonArray(
                    new JsonObject { ["type"] = "text", ["text"] = "What is this?" },
                    new JsonObject { ["type"] = "image_url", ["image_url"] = new JsonObject { ["url"] = url } }),
            }),
        };
        using var response = await _gateway.Http.PostAsJsonAsync("v1/chat/completions", body);
        return (response.StatusCode, JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone());
    }

    [Fact]
    public async Task AFetchedImageGivesTheReplyOfTheSameBytesInline()
    {
        var (status, fetched) = await ChatAsync(_base + "cat.png");
        Assert.True(status == HttpStatusCode.OK, fetched.ToString());
        var (_, inline) = await ChatAsync("data:image/png;base64," + Convert.ToBase64String(_png));
        Assert.Equal(inline.GetProperty("usage").GetProperty("prompt_tokens").GetInt32(), fetched.GetProperty("usage").GetProperty("prompt_tokens").GetInt32());
        // The same tokens with the same logprobs (the second request may restore the first's KV from the prefix cache: fp32 noise).
        static (string Token, double Logprob)[] Tokens(JsonElement reply) =>
            [.. reply.GetProperty("choices")[0].GetProperty("logprobs").GetProperty("content").EnumerateArray()
                .Select(t => (t.GetProperty("token").GetString()!, t.GetProperty("logprob").GetDouble()))];
        var (a, b) = (Tokens(inline), Tokens(fetched));
        Assert.Equal(a.Select(t => t.Token), b.Select(t => t.Token));
        for (int i = 0; i < a.Length; i++) Assert.Equal(a[i].Logprob, b[i].Logprob, 1e-4);
    }

    [Fact]
    public async Task AUrlThatFailsOrIsTooLargeIsA400NamingIt()
    {
        var (status, error) = await ChatAsync(_base + "missing.png");
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Contains("missing.png answered 404", error.GetProperty("error").GetProperty("message").GetString());
        (status, error) = await ChatAsync(_base + "big.png");
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Contains("big.png is 31457280 bytes", error.GetProperty("error").GetProperty("message").GetString());
    }

    [Fact]
    public async Task TheModelCardSaysUrlsAreTaken()
    {
        var card = JsonDocument.Parse(await _gateway.Http.GetStringAsync("v1/models")).RootElement.GetProperty("data")[0];
        Assert.True(card.GetProperty("image_input").GetProperty("image_urls").GetBoolean());
    }
}
