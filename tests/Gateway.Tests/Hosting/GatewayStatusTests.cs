using System.Net;
using System.Text.Json;
using System.Text.RegularExpressions;
using Llama4Cluster.Contracts.Attention;
using Llama4Cluster.Contracts.Experts;
using Llama4Cluster.Gateway.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Orleans.Configuration;

namespace Llama4Cluster.Gateway.Tests.Hosting;

/// <summary><c>/health</c>, <c>/ready</c> and <c>/info</c> of the one-command gateway (tiny model created in its cache, co-hosted silo).</summary>
[Collection(GatewayCollection.Name)]
public sealed class GatewayStatusTests(GatewayFixture fixture)
{
    private InProcessGateway Gateway => fixture.Gateway;

    [Fact]
    public async Task HealthAnswersOk()
    {
        using var response = await Gateway.Http.GetAsync("health");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal("ok", body.GetProperty("status").GetString());
    }

    [Fact]
    public async Task ReadyCountsEveryAttentionRankAndExpertShardLoaded()
    {
        using var response = await Gateway.Http.GetAsync("ready");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal("ready", body.GetProperty("status").GetString());
        Assert.Equal(1, body.GetProperty("attention_ranks").GetInt32());
        Assert.Equal(1, body.GetProperty("attention_ranks_loaded").GetInt32());
        // tiny-scout: 4 MoE layers × 2 shards (the silo's default --shards).
        Assert.Equal(8, body.GetProperty("expert_shards").GetInt32());
        Assert.Equal(8, body.GetProperty("expert_shards_loaded").GetInt32());
    }

    [Fact]
    public void TheTinyModelWasCreatedInTheCacheWithProgressLines()
    {
        string model = TinyModelCache.ModelDirectory(fixture.CacheDirectory);
        Assert.True(TinyModelCache.IsComplete(model), $"{model} is not a complete checkpoint");
        string progress = fixture.Progress.ToString();
        Assert.Contains("creating the tiny demo model", progress, StringComparison.Ordinal);
        Assert.Contains("writing tiny-scout: 100%", progress, StringComparison.Ordinal);
        // Nothing but the finished checkpoint is left in the cache (the staging directory was renamed into place).
        Assert.Equal([model], Directory.GetFileSystemEntries(Path.GetDirectoryName(model)!));
    }

    [Fact]
    public async Task InfoNamesTheModelAndAnOrleansGatewayThatServesTheGrains()
    {
        var info = await Gateway.GetJsonAsync("info");
        Assert.Equal("tiny-scout", info.GetProperty("model").GetString());
        Assert.Equal(Path.GetFullPath(TinyModelCache.ModelDirectory(fixture.CacheDirectory)), info.GetProperty("model_dir").GetString());
        Assert.Equal(TinyModelCache.DemoContextLength, info.GetProperty("max_model_len").GetInt32());
        Assert.Equal(1, info.GetProperty("attention_ranks").GetInt32());
        Assert.Equal(2, info.GetProperty("shards_per_layer").GetInt32());
        Assert.Equal("localhost", info.GetProperty("clustering").GetString());
        Assert.Equal("float32", info.GetProperty("dtype").GetString()); // the default: exact and batch-invariant
        Assert.Equal("llama4", info.GetProperty("cluster_id").GetString());
        Assert.Equal("llama4", info.GetProperty("service_id").GetString());
        string endpoint = info.GetProperty("orleans_gateway").GetString()!;
        var match = Regex.Match(endpoint, @"^127\.0\.0\.1:(\d+)$");
        Assert.True(match.Success, $"orleans_gateway '{endpoint}'");

        // What a load generator does with it: an Orleans client of its own, straight to the co-hosted silo.
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Logging.ClearProviders();
        builder.UseOrleansClient(client =>
        {
            client.UseStaticClustering(new IPEndPoint(IPAddress.Loopback, int.Parse(match.Groups[1].Value)));
            client.Configure<ClusterOptions>(o =>
            {
                o.ClusterId = info.GetProperty("cluster_id").GetString()!;
                o.ServiceId = info.GetProperty("service_id").GetString()!;
            });
        });
        using var host = builder.Build();
        await host.StartAsync();
        try
        {
            var grains = host.Services.GetRequiredService<IClusterClient>();
            var rank = await grains.GetGrain<IAttentionGrain>(0).DescribeAsync();
            Assert.True(rank.WeightBytes > 0);
            var shard = await grains.GetGrain<IExpertShardGrain>(new ExpertShardKey(3, 1).Format()).DescribeAsync();
            Assert.Equal(Enumerable.Range(8, 8), shard.ExpertIds);
        }
        finally
        {
            await host.StopAsync();
        }
    }
}
