using System.Net.Http.Headers;
using Llama4Cluster.Gateway.Model;
using Llama4Cluster.Gateway.Api;
using Llama4Cluster.Gateway.Hosting;
using Llama4Cluster.Core.Scheduling;
using Llama4Cluster.Gateway.Scheduling;
using Llama4Cluster.Core.Config;
using Llama4Cluster.Core.Tokenization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Llama4Cluster.Gateway.Tests.Api;

/// <summary>
/// One Kestrel server on 127.0.0.1 (port chosen by the OS) with the OpenAI API over a <see cref="FakeScheduler"/>
/// and the tiny test tokenizer, shared by the API tests.
/// </summary>
public class ApiServerFixture : IAsyncLifetime
{
    public const string ApiKey = "test-key-123";
    public const string ModelId = "tiny-scout";
    public const int MaxModelLength = 256;
    public const long MaxBodyBytes = 64 * 1024;
    public static readonly TimeSpan RequestTimeout = TimeSpan.FromMinutes(10);

    public ApiServerFixture()
        : this(MaxModelLength)
    {
    }

    /// <param name="maxModelLength">The served model's context (longer for prompts that list tools).</param>
    protected ApiServerFixture(int maxModelLength) => ModelLength = maxModelLength;

    /// <summary>The served model's context: <see cref="MaxModelLength"/> unless a subclass sets another.</summary>
    public int ModelLength { get; }

    private readonly string _directory = Path.Combine(Path.GetTempPath(), "l4c-api-" + Guid.NewGuid().ToString("N"));
    private WebApplication? _app;

    internal FakeScheduler Scheduler { get; private set; } = null!;

    public Llama4Tokenizer Tokenizer { get; private set; } = null!;

    public ServedModel Model { get; private set; } = null!;

    /// <summary>Sends the API key.</summary>
    public HttpClient Client { get; private set; } = null!;

    /// <summary>Sends no API key.</summary>
    public HttpClient Anonymous { get; private set; } = null!;

    public Uri BaseAddress { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        TinyTokenizerWriter.Write(_directory, Llama4Presets.TinyScout.VocabSize);
        Tokenizer = Llama4Tokenizer.Load(_directory);
        Model = new ServedModel(
            ModelId, _directory, Llama4Presets.TinyScout, Tokenizer, ModelLength, Tokenizer.StopTokenIds, 1_700_000_000);
        Scheduler = new FakeScheduler(Tokenizer);

        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Services.AddSingleton<IGenerationScheduler>(Scheduler);
        builder.Services.AddSingleton(Model);
        builder.Services.AddOpenAiApi(o =>
        {
            o.ApiKey = ApiKey;
            o.MaxRequestBodyBytes = MaxBodyBytes;
            // Long enough that a scripted stream never sees one by accident, short enough to wait for in a test.
            o.KeepAliveInterval = TimeSpan.FromMilliseconds(300);
            o.DefaultRequestTimeout = RequestTimeout;
        });
        _app = builder.Build();
        _app.MapOpenAiApi();
        await _app.StartAsync();

        BaseAddress = new Uri(_app.Urls.Single());
        Client = new HttpClient { BaseAddress = BaseAddress, Timeout = TimeSpan.FromSeconds(60) };
        Client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", ApiKey);
        Anonymous = new HttpClient { BaseAddress = BaseAddress, Timeout = TimeSpan.FromSeconds(60) };
    }

    public async Task DisposeAsync()
    {
        Client?.Dispose();
        Anonymous?.Dispose();
        if (_app is not null)
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
        }

        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
            // Best effort: a temp directory.
        }
    }

    /// <summary>Token ids of <paramref name="text"/> (no BOS).</summary>
    public IReadOnlyList<int> Encode(string text) => Tokenizer.Encode(text);

    /// <summary>Prompt length of a one-user-message chat.</summary>
    public int ChatPromptLength(string userText) =>
        ChatTemplate.Encode(Tokenizer, [new ChatMessage("user", userText)], addGenerationPrompt: true).Count;
}
