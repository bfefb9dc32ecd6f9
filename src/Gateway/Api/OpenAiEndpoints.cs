using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Llama4Cluster.Gateway.Model;
using Llama4Cluster.Core.Scheduling;
using Llama4Cluster.ServiceDefaults;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Llama4Cluster.Gateway.Api;

/// <summary>
/// The request handlers of the OpenAI-compatible API. Each one answers every outcome itself: a result, or an OpenAI
/// error body with the status OpenAI/vLLM use; an unexpected exception becomes a <c>server_error</c> body, never a
/// bare 500 or a dropped process.
/// </summary>
internal sealed class OpenAiEndpoints
{
    /// <summary>The API's paths and the method each takes (for 405 on another method).</summary>
    private static readonly Dictionary<string, string> Routes = new(StringComparer.OrdinalIgnoreCase)
    {
        ["/v1/chat/completions"] = HttpMethods.Post,
        ["/v1/completions"] = HttpMethods.Post,
        ["/v1/models"] = HttpMethods.Get,
        ["/metrics"] = HttpMethods.Get,
    };

    private readonly byte[]? _apiKey;

    public OpenAiEndpoints(
        ServedModel model,
        IGenerationScheduler scheduler,
        GatewayMetrics metrics,
        IOptions<ApiOptions> options,
        ILoggerFactory loggers)
    {
        Model = model;
        Scheduler = scheduler;
        Metrics = metrics;
        Options = options.Value;
        Logger = loggers.CreateLogger("Llama4Cluster.Gateway.Api");
        _apiKey = string.IsNullOrEmpty(Options.ApiKey) ? null : Encoding.UTF8.GetBytes(Options.ApiKey);
    }

    public ServedModel Model { get; }

    public IGenerationScheduler Scheduler { get; }

    public GatewayMetrics Metrics { get; }

    public ApiOptions Options { get; }

    public ILogger Logger { get; }

    /// <summary><c>POST /v1/chat/completions</c>.</summary>
    public Task ChatCompletionsAsync(HttpContext context) => GenerateAsync(context,
        async body => ChatRequestReader.Read(body, Model, Options, await ImageUrlFetcher.FetchAsync(body, Options, context.RequestAborted)),
        plan => new ChatResponseFormat($"chatcmpl-{Guid.NewGuid():N}", UnixNow(), Model.Id, Model.Tokenizer) { LogprobsRequested = plan.Parameters.Logprobs });

    /// <summary><c>POST /v1/completions</c>.</summary>
    public Task CompletionsAsync(HttpContext context) => GenerateAsync(context,
        body => Task.FromResult(CompletionRequestReader.Read(body, Model, Options)),
        plan => new CompletionResponseFormat($"cmpl-{Guid.NewGuid():N}", UnixNow(), Model.Id, Model.Tokenizer) { LogprobsRequested = plan.Parameters.Logprobs });

    /// <summary>Both generation endpoints: read the body into a plan, then run it, answering in the endpoint's format.</summary>
    private Task GenerateAsync(HttpContext context, Func<JsonElement, Task<GenerationPlan>> read, Func<GenerationPlan, ResponseFormat> format) =>
        RunAsync(context, authenticate: true, async () =>
        {
            var arrival = Stopwatch.GetTimestamp();
            JsonContentType.Require(context.Request);
            GenerationPlan plan;
            using (var body = await RequestBodyReader.ReadObjectAsync(context, Options.MaxRequestBodyBytes))
            {
                plan = await read(body.RootElement);
            }

            await new GenerationSession(context, plan, format(plan), this, arrival).RunAsync();
        });

    /// <summary><c>GET /v1/models</c>: the served model.</summary>
    public Task ModelsAsync(HttpContext context) => RunAsync(context, authenticate: true, () =>
        WriteJsonAsync(context, json =>
        {
            json.WriteStartObject();
            json.WriteString("object", "list");
            json.WriteStartArray("data");
            WriteModel(json);
            json.WriteEndArray();
            json.WriteEndObject();
        }));

    /// <summary><c>GET /v1/models/{model}</c>: the served model, or 404.</summary>
    public Task ModelAsync(HttpContext context) => RunAsync(context, authenticate: true, () =>
    {
        var name = context.Request.RouteValues["model"] as string ?? string.Empty;
        return name == Model.Id ? WriteJsonAsync(context, WriteModel) : throw ServedModelCheck.NotFound(name, Model);
    });

    /// <summary><c>GET /metrics</c>: Prometheus text with vLLM's metric names, then the OpenTelemetry metrics of the process
    /// (<see cref="MetricsScrape"/>: expert load, dispatch, runtime, HTTP, Orleans). Open without an API key.</summary>
    public Task MetricsAsync(HttpContext context) => RunAsync(context, authenticate: false, async () =>
    {
        var text = new StringBuilder(Metrics.Render(Scheduler.Snapshot()));
        context.RequestServices.GetService<MetricsScrape>()?.WriteTo(text);
        context.Response.StatusCode = StatusCodes.Status200OK;
        context.Response.ContentType = PrometheusText.ContentType;
        await context.Response.WriteAsync(text.ToString(), context.RequestAborted);
    });

    /// <summary>Anything no endpoint matched: 405 for a known path with another method, else 404.</summary>
    public Task FallbackAsync(HttpContext context)
    {
        var path = context.Request.Path.Value ?? "/";
        var authenticate = path.StartsWith("/v1/", StringComparison.OrdinalIgnoreCase);
        return RunAsync(context, authenticate, () =>
        {
            var method = context.Request.Method;
            var allowed = Routes.TryGetValue(path.TrimEnd('/'), out var only) ? only
                : path.StartsWith("/v1/models/", StringComparison.OrdinalIgnoreCase) ? HttpMethods.Get
                : null;
            if (allowed is not null && !HttpMethods.Equals(method, allowed))
            {
                throw new ApiException(
                    StatusCodes.Status405MethodNotAllowed,
                    $"Method {method} is not allowed for {path}; use {allowed}.",
                    ApiException.InvalidRequest,
                    code: "method_not_allowed")
                {
                    Headers = [new("Allow", allowed)],
                };
            }

            throw new ApiException(
                StatusCodes.Status404NotFound,
                $"Invalid URL ({method} {path}): this server serves POST /v1/chat/completions, POST /v1/completions, GET /v1/models and GET /metrics.",
                ApiException.InvalidRequest,
                code: "not_found");
        });
    }

    private async Task RunAsync(HttpContext context, bool authenticate, Func<Task> handler)
    {
        try
        {
            if (authenticate && !Authorized(context.Request))
            {
                throw new ApiException(
                    StatusCodes.Status401Unauthorized,
                    "A valid API key is required: send it as \"Authorization: Bearer KEY\".",
                    ApiException.InvalidRequest,
                    code: "invalid_api_key")
                {
                    Headers = [new("WWW-Authenticate", "Bearer")],
                };
            }

            await handler();
        }
        catch (ApiException e)
        {
            await TryWriteErrorAsync(context, e);
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
            // The client went away; there is no one to answer.
        }
        catch (Exception e)
        {
            ApiLog.Unexpected(Logger, context.Request.Method, context.Request.Path, e);
            await TryWriteErrorAsync(context, new ApiException(
                StatusCodes.Status500InternalServerError,
                $"The server failed to answer this request: {e.Message}",
                ApiException.ServerError,
                code: "internal_error"));
        }
    }

    private static async Task TryWriteErrorAsync(HttpContext context, ApiException error)
    {
        try
        {
            await OpenAiErrors.WriteAsync(context, error);
        }
        catch (Exception e) when (e is OperationCanceledException or IOException or InvalidOperationException)
        {
            // The connection is gone or the response already started; nothing more can be said.
        }
    }

    private bool Authorized(HttpRequest request)
    {
        if (_apiKey is null)
        {
            return true;
        }

        var header = request.Headers.Authorization.ToString();
        const string Scheme = "Bearer ";
        if (!header.StartsWith(Scheme, StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }

        var given = Encoding.UTF8.GetBytes(header[Scheme.Length..].Trim());
        return CryptographicOperations.FixedTimeEquals(given, _apiKey);
    }

    private void WriteModel(Utf8JsonWriter json)
    {
        json.WriteStartObject();
        json.WriteString("id", Model.Id);
        json.WriteString("object", "model");
        json.WriteNumber("created", Model.Created);
        json.WriteString("owned_by", Options.OwnedBy);
        json.WriteString("root", Model.Id);
        json.WriteNull("parent");
        json.WriteNumber("max_model_len", Model.MaxModelLength);
        // What the model accepts: text, and images when the checkpoint has a vision tower (image_url parts of chat messages).
        json.WriteStartArray("input_modalities");
        json.WriteStringValue("text");
        if (Model.Vision is not null) json.WriteStringValue("image");
        json.WriteEndArray();
        if (Model.Vision is { } vision)
        {
            json.WriteStartObject("image_input");
            json.WriteNumber("tile_size", vision.TileSize);
            json.WriteNumber("tokens_per_tile", vision.TokensPerTile);
            json.WriteNumber("max_tiles_per_image", ImageParts.MaxTilesPerImage);
            json.WriteNumber("max_images", Options.Limits.MaxImages);
            json.WriteNumber("max_image_tiles", Options.Limits.MaxImageTiles);
            json.WriteBoolean("image_urls", Options.AllowImageUrls);
            json.WriteEndObject();
        }

        json.WriteEndObject();
    }

    private static async Task WriteJsonAsync(HttpContext context, Action<Utf8JsonWriter> write)
    {
        context.Response.StatusCode = StatusCodes.Status200OK;
        context.Response.ContentType = "application/json";
        using (var json = new Utf8JsonWriter(context.Response.BodyWriter, ApiJson.WriterOptions))
        {
            write(json);
        }

        await context.Response.BodyWriter.FlushAsync(context.RequestAborted);
    }

    private static long UnixNow() => DateTimeOffset.UtcNow.ToUnixTimeSeconds();
}
