using System.Net;
using Llama4Cluster.Cluster.Engine;
using Llama4Cluster.Cluster.Hosting;
using Llama4Cluster.Core.Config;
using Llama4Cluster.Core.Generation;
using Llama4Cluster.Core.Sampling;
using Llama4Cluster.Kernels.Checkpoints;
using Llama4Cluster.Kernels.Engine;
using Llama4Cluster.Tests.Shared;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Llama4Cluster.Silos.Tests.MultiProcess;

/// <summary>
/// Hosts stood in for by loopback addresses (Linux routes all of 127.0.0.0/8 to lo; this project's CI is Linux): three silo processes advertising
/// 127.0.0.2, 127.0.0.3 and 127.0.0.4 (<c>--advertise</c>) form one cluster over Redis, reach each other, the client and
/// the data plane by those addresses only, and answer as <see cref="LocalEngine"/> does (fp32 compute and wire).
/// </summary>
public sealed class MultiAddressClusterTests : IDisposable
{
    private const int Ranks = 2, Shards = 3;
    private static readonly string[] Hosts = ["127.0.0.2", "127.0.0.3", "127.0.0.4"];
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "l4c-addr-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_directory)) Directory.Delete(_directory, recursive: true);
    }

    [RedisFact]
    public async Task SilosOnThreeAddressesFormOneClusterThatMatchesTheLocalEngine()
    {
        var config = Llama4Presets.TinyMaverick;
        TinyCheckpointWriter.Write(_directory, config, new TinyCheckpointOptions { Seed = 11 });
        using var redis = await RedisServer.StartAsync();
        string clusterId = "l4c-addr-" + Guid.NewGuid().ToString("N")[..8];
        var silos = new List<SiloProcess>();
        try
        {
            foreach (string address in Hosts)
            {
                silos.Add(SiloProcess.Start([
                    "--model", _directory, "--role", "all", "--redis", redis.Endpoint, "--cluster-id", clusterId, "--advertise", address,
                    "--dtype", "float32", "--wire-dtype", "fp32", "--shards", Shards.ToString(), "--ranks", Ranks.ToString(),
                    "--threads", "1", "--data-plane", "tcp",
                ]));
            }
            var builder = Host.CreateApplicationBuilder();
            builder.UseOrleansClient(client => client.AddLlama4Client(new Llama4ClientOptions { Redis = redis.Endpoint, ClusterId = clusterId }));
            using var host = builder.Build();
            await MultiProcessClusterTests.StartWithRetryAsync(host, silos);
            var grains = host.Services.GetRequiredService<IClusterClient>();
            await MultiProcessClusterTests.WaitForSilosAsync(grains, silos);

            // Membership: one silo per address, none on 127.0.0.1.
            var members = await grains.GetGrain<IManagementGrain>(0).GetHosts(onlyActive: true);
            Assert.Equal(Hosts, members.Keys.Select(s => s.Endpoint.Address.ToString()).Order(StringComparer.Ordinal));

            var engine = new ClusterEngine(grains, config, Ranks, Shards);
            var (ranks, shards) = await engine.LoadAsync();
            Assert.True(shards.Select(s => s.Silo).Distinct().Count() > 1, "all shards on one silo process");
            // The data plane publishes the advertised address of the silo it runs in, and names that silo.
            var endpoints = new List<Contracts.Experts.DataEndpoint>();
            foreach (var shard in shards) endpoints.Add(await engine.Shard(shard.Layer, shard.Shard).GetDataEndpointAsync());
            foreach (var rank in ranks) endpoints.Add(rank.SiloEndpoint ?? (await engine.Rank(rank.Rank).DescribeAsync()).SiloEndpoint!);
            foreach (var endpoint in endpoints)
            {
                Assert.Contains(endpoint.Host, Hosts);
                Assert.NotNull(endpoint.Silo);
                var silo = Assert.Single(members.Keys, s => s.ToString() == endpoint.Silo);
                Assert.Equal(IPAddress.Parse(endpoint.Host), silo.Endpoint.Address);
            }
            Assert.True(endpoints.Select(e => e.Host).Distinct().Count() > 1, "every data-plane endpoint on one address");

            using var local = LocalEngine.Load(_directory, new LocalEngineOptions());
            var tokens = Enumerable.Range(0, 20).Select(i => 3 + (i * 37) % 500).ToArray();
            var expected = local.Logits(tokens);
            var actual = await engine.LogitsAsync(tokens);
            double diff = 0;
            for (int r = 0; r < expected.Length; r++)
                for (int v = 0; v < expected[r].Length; v++) diff = Math.Max(diff, Math.Abs(expected[r][v] - actual[r][v]));
            Assert.True(diff < 1e-5, $"max |logit diff| {diff:E3}");

            var sampling = new SamplingParams { Temperature = 0, MaxTokens = 6 };
            var requests = new[] { tokens[..9], tokens[2..14], tokens[..3] }.Select(p => new GenerationRequest(p, sampling)).ToArray();
            var want = await local.GenerateAsync(requests);
            var got = await engine.GenerateAsync(requests);
            for (int i = 0; i < want.Count; i++) Assert.Equal(want[i].Tokens, got[i].Tokens);
            await host.StopAsync();
        }
        catch (Exception e) when (silos.Count > 0)
        {
            throw new Xunit.Sdk.XunitException($"{e}\n--- silo 0 output ---\n{MultiProcessClusterTests.Tail(silos[0].Output)}");
        }
        finally
        {
            foreach (var s in silos) s.Dispose();
        }
    }
}
