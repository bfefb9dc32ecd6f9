using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using Llama4Cluster.Core.Tokenization;
using Llama4Cluster.Core.Vision;
using Llama4Cluster.Gateway.Hosting;
using Llama4Cluster.Gateway.Model;
using Llama4Cluster.Gateway.Tests.Hosting;
using Microsoft.Extensions.DependencyInjection;
using OpenAI.Chat;
using SkiaSharp;

namespace Llama4Cluster.Gateway.Tests.EndToEnd;

/// <summary>
/// Images through the one-command gateway (its tiny model has the tiny vision tower): the official OpenAI .NET client sends
/// an image part and gets a completion whose prompt tokens count the image's token layout; the image reaches the model
/// (another image changes the logprobs); bad image input gets a 400 naming the part; the model card says it takes images.
/// </summary>
[Collection(GatewayCollection.Name)]
public sealed class ImageChatTests(GatewayFixture fixture)
{
    private ServedModel Model => fixture.Gateway.App.Services.GetRequiredService<ServedModel>();

    private ChatClient Client => OpenAiClients.Chat(fixture.Gateway.BaseAddress, Model.Id);

    /// <summary>A <paramref name="width"/> × <paramref name="height"/> PNG with a colour gradient drawn from <paramref name="seed"/>.</summary>
    internal static byte[] Png(int width, int height, int seed)
    {
        using var bitmap = new SKBitmap(width, height);
        var rng = new Random(seed);
        byte r0 = (byte)rng.Next(256), g0 = (byte)rng.Next(256), b0 = (byte)rng.Next(256);
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++)
                bitmap.SetPixel(x, y, new SKColor((byte)(r0 + x * 3), (byte)(g0 + y * 5), (byte)(b0 + x * y)));
        using var data = bitmap.Encode(SKEncodedImageFormat.Png, 100);
        return data.ToArray();
    }

    /// <summary>The prompt ids the gateway must build: the chat template with the image's layout where it sits.</summary>
    private int PromptTokens(string text, byte[] png)
    {
        var vision = Model.Vision!;
        var tiles = ImagePreprocessor.Preprocess(png, vision.TileSize, 16, 50_000_000);
        var layout = ImageTokenLayout.Tokens(tiles, vision.TokensPerTile, ImageTokenSet.FromTokenizer(Model.Tokenizer));
        return ChatTemplate.Encode(Model.Tokenizer, [new Core.Tokenization.ChatMessage("user", text) { ImageOffsets = [text.Length] }], imageTokens: _ => layout).Count;
    }

    [Fact]
    public async Task TheOpenAiClientSendsAnImageAndGetsACompletion()
    {
        Assert.NotNull(Model.Vision);
        byte[] png = Png(120, 80, seed: 1); // wider than tall: a canvas of several tiles plus the global tile
        var message = new UserChatMessage(ChatMessageContentPart.CreateTextPart("What is in this picture?"),
            ChatMessageContentPart.CreateImagePart(BinaryData.FromBytes(png), "image/png"));
        var options = new ChatCompletionOptions { Temperature = 0, MaxOutputTokenCount = 5, IncludeLogProbabilities = true };
        ChatCompletion completion = await Client.CompleteChatAsync([message], options);

        Assert.Equal(ChatFinishReason.Length, completion.FinishReason);
        Assert.Equal(5, completion.Usage.OutputTokenCount);
        Assert.Equal(PromptTokens("What is in this picture?", png), completion.Usage.InputTokenCount);

        // Another picture, the same prompt tokens: the model saw the pixels.
        var other = new UserChatMessage(ChatMessageContentPart.CreateTextPart("What is in this picture?"),
            ChatMessageContentPart.CreateImagePart(BinaryData.FromBytes(Png(120, 80, seed: 2)), "image/png"));
        ChatCompletion second = await Client.CompleteChatAsync([other], options);
        Assert.Equal(completion.Usage.InputTokenCount, second.Usage.InputTokenCount);
        Assert.NotEqual(completion.ContentTokenLogProbabilities[0].LogProbability, second.ContentTokenLogProbabilities[0].LogProbability);

        // The same picture again: the same reply (greedy, fp32).
        ChatCompletion again = await Client.CompleteChatAsync([message], options);
        Assert.Equal(completion.Content[0].Text, again.Content[0].Text);
    }

    [Fact]
    public async Task AStreamedReplyWithAnImageEqualsTheWholeOne()
    {
        var message = new UserChatMessage(ChatMessageContentPart.CreateImagePart(BinaryData.FromBytes(Png(40, 40, seed: 3)), "image/png"),
            ChatMessageContentPart.CreateTextPart("Describe it."));
        var options = new ChatCompletionOptions { Temperature = 0, MaxOutputTokenCount = 6 };
        ChatCompletion whole = await Client.CompleteChatAsync([message], options);
        var text = new System.Text.StringBuilder();
        await foreach (var update in Client.CompleteChatStreamingAsync([message], options))
            foreach (var part in update.ContentUpdate) text.Append(part.Text);
        Assert.Equal(whole.Content[0].Text, text.ToString());
    }

    private async Task<(HttpStatusCode Status, JsonElement Error)> PostAsync(JsonArray content, string role = "user")
    {
        var body = new JsonObject
        {
            ["model"] = Model.Id,
            ["max_tokens"] = 2,
            ["messages"] = new JsonArray(new JsonObject { ["role"] = role, ["content"] = content }),
        };
        using var response = await fixture.Gateway.Http.PostAsJsonAsync("v1/chat/completions", body);
        var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        return (response.StatusCode, json.TryGetProperty("error", out var e) ? e : default);
    }

    private static JsonObject ImagePart(string url) => new() { ["type"] = "image_url", ["image_url"] = new JsonObject { ["url"] = url } };

    private static string DataUrl(byte[] bytes, string type = "image/png") => $"data:{type};base64,{Convert.ToBase64String(bytes)}";

    public static TheoryData<string, string, string> BadImages => new()
    {
        { "https://example.com/cat.png", "--allow-image-urls", "messages[0].content[0].image_url.url" },
        { "data:image/png;base64,@@@@", "not valid base64", "messages[0].content[0].image_url.url" },
        { "data:text/plain;base64,aGVsbG8=", "not an image", "messages[0].content[0].image_url.url" },
        { "data:image/png," + "abc", "only base64", "messages[0].content[0].image_url.url" },
        { DataUrl("not a picture at all"u8.ToArray()), "decode", "messages[0].content[0].image_url.url" },
        { "ftp://example.com/cat.png", "data: URL", "messages[0].content[0].image_url.url" },
    };

    [Theory]
    [MemberData(nameof(BadImages))]
    public async Task BadImageInputGetsA400NamingThePart(string url, string message, string param)
    {
        var (status, error) = await PostAsync(new JsonArray(ImagePart(url), new JsonObject { ["type"] = "text", ["text"] = "hi" }));
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("invalid_request_error", error.GetProperty("type").GetString());
        Assert.Equal(param, error.GetProperty("param").GetString());
        Assert.Contains(message, error.GetProperty("message").GetString());
    }

    [Fact]
    public async Task LimitsOnImagesAndTilesAndRolesGetA400()
    {
        var png = DataUrl(Png(16, 16, seed: 4));
        var tooMany = new JsonArray([.. Enumerable.Range(0, 9).Select(_ => (JsonNode)ImagePart(png))]);
        var (status, error) = await PostAsync(tooMany);
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Contains("at most 8 images", error.GetProperty("message").GetString());

        var big = DataUrl(Png(800, 800, seed: 5)); // 16 tiles + the global one each: three exceed 34 tiles
        (status, error) = await PostAsync(new JsonArray(ImagePart(big), ImagePart(big), ImagePart(big)));
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Contains("at most 34 are accepted", error.GetProperty("message").GetString());

        (status, error) = await PostAsync(new JsonArray(ImagePart(png)), role: "system");
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Contains("images go in user messages", error.GetProperty("message").GetString());

        (status, error) = await PostAsync(new JsonArray(new JsonObject { ["type"] = "image_url", ["image_url"] = new JsonObject() }));
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("messages[0].content[0].image_url.url", error.GetProperty("param").GetString());
    }

    [Fact]
    public async Task TheModelCardSaysItTakesImages()
    {
        var card = JsonDocument.Parse(await fixture.Gateway.Http.GetStringAsync("v1/models")).RootElement.GetProperty("data")[0];
        Assert.Equal(["text", "image"], card.GetProperty("input_modalities").EnumerateArray().Select(e => e.GetString()!).ToArray());
        var image = card.GetProperty("image_input");
        Assert.Equal(Model.Vision!.TileSize, image.GetProperty("tile_size").GetInt32());
        Assert.Equal(Model.Vision.TokensPerTile, image.GetProperty("tokens_per_tile").GetInt32());
        Assert.False(image.GetProperty("image_urls").GetBoolean());
    }
}
