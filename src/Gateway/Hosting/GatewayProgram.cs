using System.Globalization;
using System.Net;
using Llama4Cluster.Cluster.Hosting;
using Llama4Cluster.Contracts.Experts;
using Llama4Cluster.Core.Caching;
using Llama4Cluster.Gateway.Api;
using Llama4Cluster.Gateway.Model;
using Llama4Cluster.Core.Scheduling;
using Llama4Cluster.Gateway.Scheduling;
using Llama4Cluster.ServiceDefaults;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Options;

namespace Llama4Cluster.Gateway.Hosting;

/// <summary>
/// The gateway process (<see cref="GatewayCommandLine.Usage"/>): an ASP.NET Core application serving one model, either
/// co-hosting a silo in its own process (no <c>--redis</c>; with no <c>--model</c> it first creates the tiny demo model in
/// a cache directory) or as a pure Orleans client of a cluster of silo processes found through Redis. Tests build the same
/// application in-process with <see cref="Build"/>.
/// </summary>
public static partial class GatewayProgram
{
    /// <summary>Environment variable read for the API key when neither <c>--api-key</c> nor <c>Gateway:ApiKey</c> is set.</summary>
    public const string ApiKeyVariable = "LLAMA4_API_KEY";

    /// <summary>Runs the gateway until it is stopped (Ctrl+C, SIGTERM). Bad arguments: one line on stderr, exit code 2.</summary>
    public static async Task<int> RunAsync(string[] args)
    {
        ArgumentNullException.ThrowIfNull(args);
        if (GatewayCommandLine.WantsHelp(args))
        {
            await Console.Out.WriteAsync(GatewayCommandLine.Help());
            return 0;
        }
        WebApplication app;
        try
        {
            app = Build(args, Console.Out);
        }
        catch (GatewayStartupException e)
        {
            await Console.Error.WriteLineAsync("error: " + e.Message);
            return e.ExitCode;
        }
        await using (app)
        {
            try
            {
                await app.RunAsync();
                return 0;
            }
            catch (OptionsValidationException e)
            {
                await Console.Error.WriteLineAsync("error: " + string.Join("; ", e.Failures));
                return 2;
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                // Start-up failures (port in use, a silo that cannot start): one line, no stack trace.
                var inner = e is AggregateException { InnerExceptions.Count: > 0 } a ? a.InnerExceptions[0] : e;
                await Console.Error.WriteLineAsync("error: " + inner.Message);
                return 1;
            }
        }
    }

    /// <summary>
    /// Builds the gateway application from command-line style <paramref name="args"/> (nothing is started yet: call
    /// <c>StartAsync</c>/<c>RunAsync</c>). <paramref name="progress"/> receives the tiny model's creation lines (stdout by
    /// default); <paramref name="configure"/> may adjust the builder (configuration, logging) before the options are read.
    /// </summary>
    /// <exception cref="GatewayStartupException">Bad arguments (exit code 2) or an unusable checkpoint or silo assembly (exit code 1).</exception>
    public static WebApplication Build(IReadOnlyList<string> args, TextWriter? progress = null, Action<WebApplicationBuilder>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(args);
        var flags = GatewayCommandLine.Parse(args);
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = [.. Silos.Hosting.HostArguments.NoConfigReload] });
        builder.Configuration.AddInMemoryCollection(flags);
        builder.Logging.AddSimpleConsole(o =>
        {
            o.SingleLine = true;
            o.TimestampFormat = "HH:mm:ss.fff ";
        });
        // Orleans, Polly and per-request ASP.NET Core lines drown what the gateway says; Logging:LogLevel:* still overrides.
        foreach (var category in new[] { "Orleans", "Polly", "Microsoft.AspNetCore" })
        {
            if (builder.Configuration[$"Logging:LogLevel:{category}"] is null) builder.Logging.AddFilter(category, LogLevel.Warning);
        }
        builder.AddServiceDefaults();
        configure?.Invoke(builder);
        var options = ReadOptions(builder.Configuration);

        string modelDirectory = string.IsNullOrWhiteSpace(options.ModelDirectory)
            ? TinyModelCache.Ensure(string.IsNullOrWhiteSpace(options.CacheDirectory) ? TinyModelCache.DefaultCacheDirectory : options.CacheDirectory,
                progress ?? Console.Out)
            : options.ModelDirectory;
        var model = ServedModelLoader.Load(modelDirectory, options);
        var shards = Enumerable.Range(0, model.Config.NumHiddenLayers).Where(model.Config.IsMoeLayer)
            .SelectMany(layer => Enumerable.Range(0, options.ShardsPerLayer).Select(shard => new ExpertShardKey(layer, shard)))
            .ToArray();
        if (model.Config.NumLocalExperts > 0 && shards.Length > 0 && options.ShardsPerLayer > model.Config.NumLocalExperts)
            throw GatewayStartupException.Usage($"--shards {options.ShardsPerLayer}: the model has {model.Config.NumLocalExperts} experts per MoE layer; use at most that many shards");

        var info = AddClusterConnection(builder, options, model);

        builder.WebHost.UseUrls(ListenUrl(options));
        builder.Services.Configure<HostOptions>(o =>
        {
            // Kestrel answers /health and /ready while the silo starts or the client waits for the cluster.
            o.ServicesStartConcurrently = true;
            o.ShutdownTimeout = TimeSpan.FromSeconds(15);
        });
        builder.Services.AddSingleton(Options.Create(options));
        builder.Services.AddSingleton(model);
        builder.Services.AddSingleton(info);
        builder.Services.AddClusterReadiness(options.AttentionRanks, shards);
        builder.Services.AddObservedClusterStepBackend(options.AttentionRanks);
        builder.Services.AddGenerationScheduler(scheduler =>
        {
            if (options.MaxNumSeqs is { } sequences)
            {
                scheduler.MaxRunningSequences = sequences;
                // Every running sequence's decode token must fit in a step: raise the default step budget with it.
                scheduler.MaxStepTokens = Math.Max(scheduler.MaxStepTokens, sequences);
            }
            if (options.MaxStepTokens is { } tokens) scheduler.MaxStepTokens = tokens;
            scheduler.PrefixRouting = options.EnablePrefixCaching;
            scheduler.PrefixBlockSize = PrefixBlockHash.BlockSizeFor(model.Config, options.PrefixBlockSize); // the ranks' block size
        });

        builder.Services.AddOpenAiApi(api =>
        {
            if (!string.IsNullOrEmpty(options.ApiKey)) api.ApiKey = options.ApiKey;
            api.AllowImageUrls = options.AllowImageUrls;
        });

        var app = builder.Build();
        app.UseReadinessGate();
        app.MapGatewayStatus();
        app.MapOpenAiApi();

        var log = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("Llama4Cluster.Gateway");
        LogConfiguration(app, log, options, model, info, shards.Length);
        // Kestrel itself logs "Now listening on: ..." as soon as it listens (before the cluster is reachable in Redis mode).
        app.Lifetime.ApplicationStarted.Register(() => LogStarted(log, model.Id, string.Join(", ", ListeningAddresses(app))));
        return app;
    }

    /// <summary>How the gateway reaches the cluster: an Orleans client of a Redis-clustered one, or a silo co-hosted in this process.</summary>
    private static GatewayInfo AddClusterConnection(WebApplicationBuilder builder, GatewayOptions options, ServedModel model)
    {
        if (options.JoinsCluster)
        {
            builder.UseOrleansClient(client =>
            {
                // The silos' Llama4:MaxMessageBytes: prompts of long prefills and their replies stay within it.
                client.AddLlama4Client(new Llama4ClientOptions
                {
                    Redis = options.Redis,
                    ClusterId = options.ClusterId,
                    ServiceId = options.ServiceId,
                    MaxMessageBytes = options.MaxMessageBytes,
                });
                // Silos may start after the gateway: keep trying (the host starts its services concurrently, so /health and
                // /ready answer meanwhile).
                if (options.DashboardPort is int dashboard) client.AddDashboardEndpoint(dashboard);
                client.UseConnectionRetryFilter(async (_, cancellationToken) =>
                {
                    await Task.Delay(TimeSpan.FromSeconds(1), cancellationToken);
                    return !cancellationToken.IsCancellationRequested;
                });
            });
            return new GatewayInfo(model.Id, model.Directory, model.MaxModelLength, model.Config.VocabSize, options.AttentionRanks, options.ShardsPerLayer,
                GatewayInfo.RedisClustering, null, options.Redis, options.ClusterId, options.ServiceId, null, null);
        }
        else
        {
            var endpoints = CoHostedSilo.Add(builder, options, model.Directory);
            var (dtype, dataPlane) = CoHostedSilo.Describe(options, model.Directory);
            return new GatewayInfo(model.Id, model.Directory, model.MaxModelLength, model.Config.VocabSize, options.AttentionRanks, options.ShardsPerLayer,
                GatewayInfo.Localhost, endpoints.OrleansGateway, null, options.ClusterId, options.ServiceId, dtype, dataPlane);
        }

    }

    private static void LogConfiguration(WebApplication app, ILogger log, GatewayOptions options, ServedModel model, GatewayInfo info, int moeShards)
    {
        LogModel(log, model.Id, model.Directory, model.MaxModelLength, model.Config.NumHiddenLayers, moeShards / Math.Max(1, options.ShardsPerLayer),
            model.Config.NumLocalExperts);
        if (options.JoinsCluster)
        {
            LogClusterClient(log, options.Redis, options.ClusterId, options.AttentionRanks, options.ShardsPerLayer);
            var ignored = new[] { "--dtype", "--device", "--threads", "--data-plane", "--cache-dir" }
                .Where(flag => app.Configuration[GatewayCommandLine.Switches[flag]] is not null).ToArray();
            if (ignored.Length > 0) LogIgnoredInClusterMode(log, string.Join(", ", ignored));
        }
        else
            LogCoHosted(log, info.OrleansGateway ?? "", info.DType ?? "", options.Device, info.DataPlane ?? "", CoHostedSilo.TorchThreads(options),
                options.AttentionRanks, options.ShardsPerLayer);
    }

    /// <summary>The addresses Kestrel listens on (the OS-chosen port filled in once started).</summary>
    public static IReadOnlyList<string> ListeningAddresses(WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        return app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses.ToArray() ?? [];
    }

    /// <summary>Binds the <c>Gateway</c> section; a value of the wrong type or an invalid setting is a usage error naming the flag.</summary>
    internal static GatewayOptions ReadOptions(IConfiguration configuration)
    {
        var section = configuration.GetSection(GatewayOptions.SectionName);
        var errors = new List<string>();
        foreach (var property in typeof(GatewayOptions).GetProperties().Where(p => p.CanWrite))
        {
            var type = Nullable.GetUnderlyingType(property.PropertyType) ?? property.PropertyType;
            if (section[property.Name] is not { } value) continue;
            if (type == typeof(int) && !int.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out _))
                errors.Add($"{Flag(property.Name)} '{value}': expected an integer");
            if (type == typeof(bool) && !bool.TryParse(value, out _))
                errors.Add($"{Flag(property.Name)} '{value}': use true or false");
            if (type == typeof(DataPlaneKind) && CommandLineFlags.CheckEnum<DataPlaneKind>(Flag(property.Name), value) is { } error)
                errors.Add(error);
        }
        if (errors.Count > 0) throw GatewayStartupException.Usage(string.Join("; ", errors));
        var options = section.Get<GatewayOptions>() ?? new GatewayOptions();
        // Under Aspire (aspire/Llama4Cluster.AppHost) the cluster's Redis comes with Orleans' clustering settings.
        if (string.IsNullOrWhiteSpace(options.Redis) && AspireOrleansWiring.RedisConnectionString(configuration) is { } redis) options.Redis = redis;
        if (string.IsNullOrEmpty(options.ApiKey) && Environment.GetEnvironmentVariable(ApiKeyVariable) is { Length: > 0 } key)
            options.ApiKey = key;
        var result = new GatewayOptionsValidator().Validate(null, options);
        if (result.Failed) throw GatewayStartupException.Usage(string.Join("; ", result.Failures));
        return options;
    }

    private static string Flag(string property) =>
        GatewayCommandLine.Switches.FirstOrDefault(s => s.Value == GatewayOptions.SectionName + ":" + property).Key
        ?? GatewayOptions.SectionName + ":" + property;

    /// <summary>Kestrel's URL: <c>localhost</c> with port 0 becomes 127.0.0.1 (Kestrel binds OS-chosen ports on addresses only).</summary>
    internal static string ListenUrl(GatewayOptions options)
    {
        string host = options.Host.Trim();
        if (host == "localhost" && options.Port == 0) host = "127.0.0.1";
        else if (host is "*" or "0.0.0.0") host = "0.0.0.0";
        else if (IPAddress.TryParse(host, out var ip) && ip.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6) host = $"[{ip}]";
        return string.Create(CultureInfo.InvariantCulture, $"http://{host}:{options.Port}");
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Model {Model} from {Directory}: max_model_len {MaxModelLength}, {Layers} layers, {MoeLayers} MoE layers of {Experts} experts")]
    private static partial void LogModel(ILogger logger, string model, string directory, int maxModelLength, int layers, int moeLayers, int experts);

    [LoggerMessage(Level = LogLevel.Information, Message = "Mode: Orleans client of the cluster in Redis {Redis} (cluster id '{ClusterId}'), {Ranks} attention rank(s), {Shards} expert shard(s) per MoE layer")]
    private static partial void LogClusterClient(ILogger logger, string redis, string clusterId, int ranks, int shards);

    [LoggerMessage(Level = LogLevel.Information, Message = "Mode: co-hosted silo in this process (localhost clustering, Orleans gateway {OrleansGateway}), {DType} on {Device}, data plane {DataPlane}, {Threads} torch thread(s), {Ranks} attention rank(s), {Shards} expert shard(s) per MoE layer")]
    private static partial void LogCoHosted(ILogger logger, string orleansGateway, string dtype, string device, string dataPlane, int threads, int ranks, int shards);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Ignored with --redis (the silo processes' own flags decide them): {Flags}")]
    private static partial void LogIgnoredInClusterMode(ILogger logger, string flags);

    [LoggerMessage(Level = LogLevel.Information, Message = "Started: serving {Model} on {Addresses} (GET /ready says when every grain is loaded)")]
    private static partial void LogStarted(ILogger logger, string model, string addresses);
}
