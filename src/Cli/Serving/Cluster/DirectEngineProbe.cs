using System.Diagnostics;
using System.Globalization;
using System.Net;
using Llama4Cluster.Core.Config;
using Llama4Cluster.Core.Generation;
using Llama4Cluster.Kernels.Engine;
using Llama4Cluster.Core.Sampling;
using Llama4Cluster.Cluster.Engine;
using Llama4Cluster.Cluster.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Llama4Cluster.Cli.Serving.Cluster;

/// <summary>
/// The engine behind a gateway, called directly: an Orleans client that joins the gateway's cluster as its
/// <c>GET /info</c> describes it (static clustering to the silo gateway in localhost mode, Redis membership in redis
/// mode) and runs <see cref="ClusterEngine"/> — the same attention ranks and expert shards the gateway drives — one
/// request at a time, timing the first token through the engine's onToken callback.
/// </summary>
public sealed class DirectEngineProbe : IFirstTokenProbe, IAsyncDisposable
{
    private readonly IHost _host;
    private readonly ClusterEngine _engine;

    private DirectEngineProbe(IHost host, ClusterEngine engine)
    {
        _host = host;
        _engine = engine;
    }

    /// <summary>What was joined, for the report: clustering, endpoint, ranks and shards.</summary>
    public string Description { get; private init; } = "";

    /// <summary>
    /// Joins the cluster. Only addresses on loopback or on <paramref name="gatewayUrl"/>'s host are contacted.
    /// </summary>
    /// <exception cref="DirectEngineUnavailableException">The info lacks what is needed, names another host, or the
    /// cluster did not accept the client within <paramref name="timeout"/>.</exception>
    public static async Task<DirectEngineProbe> ConnectAsync(GatewayInfo info, Uri gatewayUrl, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(info);
        ArgumentNullException.ThrowIfNull(gatewayUrl);
        if (string.IsNullOrEmpty(info.ModelDirectory)) throw new DirectEngineUnavailableException("GET /info names no model_dir");
        if (info.AttentionRanks is not > 0) throw new DirectEngineUnavailableException("GET /info gives no positive attention_ranks");
        if (info.ShardsPerLayer is not > 0) throw new DirectEngineUnavailableException("GET /info gives no positive shards_per_layer");
        Llama4TextConfig config;
        try
        {
            config = Llama4ConfigReader.Load(info.ModelDirectory);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidDataException or ArgumentException)
        {
            throw new DirectEngineUnavailableException($"the model's config is not readable here ({e.Message.ReplaceLineEndings(" ")})");
        }

        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Logging.ClearProviders(); // stdout carries the command's output only
        builder.Services.AddSingleton<IHostLifetime, NoSignalLifetime>();
        string endpoint;
        switch (info.Clustering)
        {
            case "localhost":
                var gateway = await ResolveAsync(info.OrleansGateway, "orleans_gateway", gatewayUrl, cancellationToken);
                endpoint = $"silo gateway {gateway}";
                builder.UseOrleansClient(client =>
                {
                    client.UseStaticClustering(gateway);
                    Configure(client, info, redis: null);
                });
                break;
            case "redis":
                var redis = await ResolveAsync(info.Redis, "redis", gatewayUrl, cancellationToken);
                endpoint = $"Redis membership at {redis}";
                builder.UseOrleansClient(client =>
                {
                    Configure(client, info, redis.ToString());
                });
                break;
            default:
                throw new DirectEngineUnavailableException($"GET /info: clustering '{info.Clustering}' is neither 'localhost' nor 'redis'");
        }

        var host = builder.Build();
        try
        {
            var deadline = DateTime.UtcNow + timeout;
            await StartAsync(host, endpoint, deadline, timeout, cancellationToken);
            var engine = new ClusterEngine(host.Services.GetRequiredService<IClusterClient>(), config, info.AttentionRanks.Value, info.ShardsPerLayer.Value);
            await WaitForGrainTypesAsync(engine, endpoint, deadline, cancellationToken);
            return new DirectEngineProbe(host, engine)
            {
                Description = $"ClusterEngine over {endpoint}, {info.AttentionRanks} attention rank(s), {info.ShardsPerLayer} shards/layer",
            };
        }
        catch
        {
            await StopQuietlyAsync(host);
            throw;
        }
    }

    /// <summary>Connects the client; retried until the deadline, since a cluster may list no silo gateway yet (still starting).</summary>
    private static async Task StartAsync(IHost host, string endpoint, DateTime deadline, TimeSpan timeout, CancellationToken cancellationToken)
    {
        while (true)
        {
            using var attempt = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            attempt.CancelAfter(Max(deadline - DateTime.UtcNow, TimeSpan.FromMilliseconds(1)));
            try
            {
                await host.StartAsync(attempt.Token);
                return;
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                throw new DirectEngineUnavailableException(string.Create(CultureInfo.InvariantCulture,
                    $"the cluster ({endpoint}) did not accept an Orleans client within {timeout.TotalSeconds:0} s"));
            }
            catch (Exception e) when (e is not (OperationCanceledException or OutOfMemoryException))
            {
                if (DateTime.UtcNow >= deadline)
                    throw new DirectEngineUnavailableException($"cannot join the cluster ({endpoint}): {e.Message.ReplaceLineEndings(" ")}");
                await Task.Delay(250, cancellationToken);
            }
        }
    }

    /// <summary>
    /// Rank 0 answers (activating it if nobody has): the client learns the silos' grain types shortly after it connects,
    /// and until then calls fail with "No active nodes are compatible with grain ...": that, only, is retried.
    /// </summary>
    private static async Task WaitForGrainTypesAsync(ClusterEngine engine, string endpoint, DateTime deadline, CancellationToken cancellationToken)
    {
        while (true)
        {
            try
            {
                await engine.Rank(0).DescribeAsync();
                return;
            }
            catch (Orleans.Runtime.OrleansException e) when (e.Message.Contains("No active nodes are compatible", StringComparison.Ordinal))
            {
                if (DateTime.UtcNow >= deadline)
                    throw new DirectEngineUnavailableException($"the cluster ({endpoint}) hosts no attention rank: {e.Message.ReplaceLineEndings(" ")}");
                await Task.Delay(250, cancellationToken);
            }
        }
    }

    private static TimeSpan Max(TimeSpan a, TimeSpan b) => a > b ? a : b;

    public async Task<double> FirstTokenSecondsAsync(IReadOnlyList<int> prompt, int maxTokens, CancellationToken cancellationToken)
    {
        var request = new GenerationRequest(prompt, new SamplingParams { Temperature = 0, MaxTokens = maxTokens, IgnoreEos = true });
        long first = 0;
        long start = Stopwatch.GetTimestamp();
        await _engine.GenerateAsync([request], (_, _) =>
        {
            if (first == 0) first = Stopwatch.GetTimestamp();
        }, cancellationToken);
        if (first == 0) throw new InvalidOperationException("the engine generated no token");
        return Stopwatch.GetElapsedTime(start, first).TotalSeconds;
    }

    public async ValueTask DisposeAsync() => await StopQuietlyAsync(_host);

    private static void Configure(IClientBuilder client, GatewayInfo info, string? redis)
    {
        var defaults = new Llama4ClientOptions();
        client.AddLlama4Client(new Llama4ClientOptions
        {
            Redis = redis,
            ClusterId = string.IsNullOrEmpty(info.ClusterId) ? defaults.ClusterId : info.ClusterId,
            ServiceId = string.IsNullOrEmpty(info.ServiceId) ? defaults.ServiceId : info.ServiceId,
        });
    }

    /// <summary>
    /// <c>host:port</c> → an endpoint, when the host is loopback or the gateway URL's own host: the benchmark contacts
    /// nothing the user did not point it at.
    /// </summary>
    private static async Task<IPEndPoint> ResolveAsync(string? hostPort, string field, Uri gatewayUrl, CancellationToken cancellationToken)
    {
        if (string.IsNullOrEmpty(hostPort)) throw new DirectEngineUnavailableException($"GET /info names no {field}");
        int colon = hostPort.LastIndexOf(':');
        if (colon <= 0 || !int.TryParse(hostPort[(colon + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out int port) || port is < 1 or > 65535)
            throw new DirectEngineUnavailableException($"GET /info: {field} '{hostPort}' is not host:port");
        string host = hostPort[..colon].Trim('[', ']');
        bool sameHost = string.Equals(host, gatewayUrl.IdnHost, StringComparison.OrdinalIgnoreCase);
        if (IPAddress.TryParse(host, out var address))
        {
            if (!IPAddress.IsLoopback(address) && !sameHost)
                throw new DirectEngineUnavailableException($"GET /info: {field} {hostPort} is neither loopback nor the --url host; not contacted");
            return new IPEndPoint(address, port);
        }
        if (!sameHost && !string.Equals(host, "localhost", StringComparison.OrdinalIgnoreCase))
            throw new DirectEngineUnavailableException($"GET /info: {field} {hostPort} is neither loopback nor the --url host; not contacted");
        try
        {
            var addresses = await Dns.GetHostAddressesAsync(host, cancellationToken);
            var chosen = addresses.FirstOrDefault(a => a.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork) ?? addresses.FirstOrDefault()
                ?? throw new DirectEngineUnavailableException($"GET /info: {field} host '{host}' has no address");
            return new IPEndPoint(chosen, port);
        }
        catch (System.Net.Sockets.SocketException e)
        {
            throw new DirectEngineUnavailableException($"GET /info: {field} host '{host}' does not resolve ({e.Message})");
        }
    }

    private static async Task StopQuietlyAsync(IHost host)
    {
        try
        {
            // Closing the gateway connection first keeps the silo from logging a dropped client; bounded, best effort.
            using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(3));
            await host.StopAsync(stop.Token);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // The process exits next; the silo notices the closed connection.
        }
        host.Dispose();
    }

    /// <summary>A host lifetime that leaves Ctrl+C to the process (the benchmark has nothing to drain).</summary>
    private sealed class NoSignalLifetime : IHostLifetime
    {
        public Task WaitForStartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
