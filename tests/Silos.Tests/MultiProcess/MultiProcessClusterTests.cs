using Llama4Cluster.Cluster.Hosting;
using Llama4Cluster.Kernels.Checkpoints;
using Llama4Cluster.Core.Config;
using Llama4Cluster.Core.Generation;
using Llama4Cluster.Kernels.Engine;
using Llama4Cluster.Core.Sampling;
using Llama4Cluster.Silos.DataPlane;
using Llama4Cluster.Silos.Diagnostics;
using Llama4Cluster.Cluster.Engine;
using Llama4Cluster.Silos.Hosting;
using Llama4Cluster.Tests.Shared;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Orleans.Configuration;
using Xunit.Abstractions;

namespace Llama4Cluster.Silos.Tests.MultiProcess;

/// <summary>
/// The cluster as deployed: a real redis-server for membership and three separate silo processes
/// (<c>dotnet Llama4Cluster.Silos.dll --model DIR --redis HOST:PORT ...</c>); a client in the test process drives
/// them and must get what <see cref="LocalEngine"/> gets (fp32 compute and wire) — also with every attention rank split
/// into pipeline stages, each stage in another silo process (tiny-maverick in 2, tiny-behemoth in 3).
/// </summary>
public sealed class MultiProcessClusterTests(ITestOutputHelper output) : IDisposable
{
    private const int Silos = 3, Ranks = 2, Shards = 3;
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "l4c-mp-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_directory)) Directory.Delete(_directory, recursive: true);
    }

    [RedisTheory]
    [InlineData("orleans", "tiny-maverick", 1)]
    [InlineData("tcp", "tiny-maverick", 1)]
    [InlineData("tcp", "tiny-maverick", 2)]
    [InlineData("orleans", "tiny-behemoth", 3)]
    [InlineData("tcp", "tiny-behemoth", 3, "shards")]
    public async Task ThreeSiloProcessesOverRedisMatchTheLocalEngine(string dataPlane, string preset, int stages, string sharedExperts = "rank")
    {
        var config = Llama4Presets.Get(preset);
        TinyCheckpointWriter.Write(_directory, config, new TinyCheckpointOptions { Seed = 5 });
        using var redis = await RedisServer.StartAsync();
        string clusterId = "l4c-test-" + Guid.NewGuid().ToString("N")[..8];
        var silos = new List<SiloProcess>();
        try
        {
            for (int i = 0; i < Silos; i++)
            {
                silos.Add(SiloProcess.Start([
                    "--model", _directory, "--role", "all", "--redis", redis.Endpoint, "--cluster-id", clusterId,
                    "--dtype", "float32", "--wire-dtype", "fp32", "--shards", Shards.ToString(), "--ranks", Ranks.ToString(),
                    "--threads", "1", "--data-plane", dataPlane, "--stages", stages.ToString(), "--shared-experts", sharedExperts,
                ]));
            }
            var builder = Host.CreateApplicationBuilder();
            builder.UseOrleansClient(client => client.AddLlama4Client(new Llama4ClientOptions { Redis = redis.Endpoint, ClusterId = clusterId }));
            using var host = builder.Build();
            await StartWithRetryAsync(host, silos);
            var grains = host.Services.GetRequiredService<IClusterClient>();
            await WaitForSilosAsync(grains, silos);

            bool sharedShards = sharedExperts == "shards";
            var engine = new ClusterEngine(grains, config, Ranks, Shards)
            {
                SharedExperts = sharedShards ? Llama4Cluster.Cluster.Placement.SharedExpertPlacement.Shards : Llama4Cluster.Cluster.Placement.SharedExpertPlacement.Rank,
            };
            var (_, shards) = await engine.LoadAsync();
            Assert.True(shards.Select(s => s.Silo).Distinct().Count() > 1, "all shards on one silo process");
            // With shared-expert shards every MoE layer has one more shard, holding only the shared expert.
            Assert.Equal(config.MoeLayers.Count(m => m) * (Shards + (sharedShards ? 1 : 0)), shards.Count);
            Assert.Equal(sharedShards ? config.MoeLayers.Count(m => m) : 0, shards.Count(s => s.ExpertIds.SequenceEqual([Contracts.Experts.ExpertShardRequest.SharedExpert])));

            using var local = LocalEngine.Load(_directory, new LocalEngineOptions());
            var tokens = Enumerable.Range(0, 20).Select(i => 3 + (i * 53) % 500).ToArray();
            var expected = local.Logits(tokens);
            var actual = await engine.LogitsAsync(tokens);
            double diff = 0;
            for (int r = 0; r < expected.Length; r++)
                for (int v = 0; v < expected[r].Length; v++) diff = Math.Max(diff, Math.Abs(expected[r][v] - actual[r][v]));
            Assert.True(diff < 1e-5, $"max |logit diff| {diff:E3}");

            var sampling = new SamplingParams { Temperature = 0, MaxTokens = 6 };
            var requests = new[] { tokens[..7], tokens[3..15], tokens[..2] }.Select(p => new GenerationRequest(p, sampling)).ToArray();
            var want = await local.GenerateAsync(requests);
            var got = await engine.GenerateAsync(requests);
            for (int i = 0; i < want.Count; i++) Assert.Equal(want[i].Tokens, got[i].Tokens);
            if (stages > 1)
            {
                await AssertStagedAsync(grains, stages);
                await host.StopAsync();
                return;
            }

            // Data plane across processes (client → silo over loopback TCP) against raw loopback TCP: printed, not asserted.
            using var plane = new DataPlaneClient(host.Services.GetRequiredService<Orleans.Serialization.Serializer>());
            var endpoint = await engine.Shard(1, 0).GetDataEndpointAsync();
            var samples = await DataPlaneBenchmark.RunAsync(grains, [10 << 10, 320 << 10, 5 << 20], iterations: 15, plane, endpoint);
            foreach (var s in samples)
            {
                output.WriteLine($"{s.Bytes,8} B: Orleans {s.OrleansMicroseconds,7:F0} us ({s.OrleansBytesPerSecond / 1e6,5:F0} MB/s, {s.OrleansRemoteRatio:F2}), " +
                    $"data plane {s.DataPlaneMicroseconds,7:F0} us ({s.DataPlaneBytesPerSecond / 1e6,5:F0} MB/s, {s.DataPlaneRemoteRatio:F2}), " +
                    $"raw TCP cross-process {s.RemoteTcpMicroseconds,7:F0} us ({s.RemoteTcpBytesPerSecond / 1e6,5:F0} MB/s), " +
                    $"in-process {s.TcpMicroseconds,7:F0} us ({s.TcpBytesPerSecond / 1e6,5:F0} MB/s)");
            }
            await host.StopAsync();
        }
        catch (Exception e) when (silos.Count > 0)
        {
            throw new Xunit.Sdk.XunitException($"{e}\n--- silo 0 output ---\n{Tail(silos[0].Output)}");
        }
        finally
        {
            foreach (var s in silos) s.Dispose();
        }
    }

    /// <summary>Each rank's stages run in distinct silo processes and handed every pass on.</summary>
    private static async Task AssertStagedAsync(IClusterClient grains, int stages)
    {
        for (int rank = 0; rank < Ranks; rank++)
        {
            var infos = new List<Contracts.Attention.AttentionRankInfo> { await grains.GetGrain<Contracts.Attention.IAttentionGrain>(rank).DescribeAsync() };
            for (int s = 1; s < stages; s++)
                infos.Add(await grains.GetGrain<Contracts.Attention.IAttentionStageGrain>(Llama4Cluster.Cluster.Placement.PlacementKey.ForAttentionStage(rank, s).ToString()).DescribeAsync());
            Assert.Equal(stages, infos.Select(i => i.Silo).Distinct().Count());
            Assert.True(infos[0].HandOffs > 0, $"rank {rank} handed nothing on");
            for (int s = 0; s < stages; s++) Assert.Equal(s == stages - 1 ? 0 : infos[0].HandOffs, infos[s].HandOffs); // one per boundary per pass
        }
    }

    internal static string Tail(string text) => text.Length <= 6000 ? text : text[^6000..];

    internal static async Task StartWithRetryAsync(IHost host, List<SiloProcess> silos)
    {
        // The client needs a gateway in the membership table: retry while the silo processes start.
        var deadline = DateTime.UtcNow.AddSeconds(90);
        while (true)
        {
            try
            {
                await host.StartAsync();
                return;
            }
            catch (Exception) when (DateTime.UtcNow < deadline && silos.All(s => !s.HasExited))
            {
                await Task.Delay(500);
            }
        }
    }

    internal static async Task WaitForSilosAsync(IClusterClient client, List<SiloProcess> silos)
    {
        var management = client.GetGrain<IManagementGrain>(0);
        var deadline = DateTime.UtcNow.AddSeconds(90);
        while (true)
        {
            var hosts = await management.GetHosts(onlyActive: true);
            if (hosts.Count == silos.Count) return;
            if (DateTime.UtcNow > deadline || silos.Any(s => s.HasExited))
                throw new TimeoutException($"{hosts.Count} of {silos.Count} silos joined");
            await Task.Delay(250);
        }
    }
}
