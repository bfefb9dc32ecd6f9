using System.Diagnostics;
using System.Globalization;
using Llama4Cluster.Cluster.Placement;
using Llama4Cluster.Cli.Cluster;
using Llama4Cluster.Core.Config;
using Llama4Cluster.Core.Generation;
using Llama4Cluster.Kernels.Engine;
using Llama4Cluster.Core.Sampling;
using Llama4Cluster.Core.Tokenization;
using Llama4Cluster.Core.Vision;
using Llama4Cluster.Cluster.Engine;

namespace Llama4Cluster.Cli.Engines;

/// <summary>
/// <c>--engine cluster</c>: an ephemeral local cluster (<see cref="LocalClusterLauncher"/>) driven through
/// <see cref="ClusterEngine"/>; disposing it tears the cluster down.
/// </summary>
internal sealed class ClusterCliEngine : ICliEngine
{
    private readonly LocalClusterLauncher _cluster;

    private ClusterCliEngine(LocalClusterLauncher cluster, ClusterEngine engine, Llama4Tokenizer? tokenizer, double loadSeconds)
    {
        _cluster = cluster;
        Engine = engine;
        Tokenizer = tokenizer;
        LoadSeconds = loadSeconds;
    }

    public ClusterEngine Engine { get; }

    public LocalClusterLauncher Cluster => _cluster;

    public Llama4Tokenizer? Tokenizer { get; }

    public double LoadSeconds { get; }

    public GenerationTimings? LastTimings => Engine.LastTimings;

    /// <summary>One throwaway sequence per rank through the cluster (<see cref="ClusterEngine.WarmUpAsync"/>): every silo
    /// compiles its step code before the first request.</summary>
    public double WarmUp() => Engine.WarmUpAsync().GetAwaiter().GetResult();

    /// <summary>
    /// Starts the cluster, activates every rank and shard (each loads its weights) and returns once all are ready. With a
    /// <paramref name="plan"/> the shards per layer and attention ranks are the plan's (the silos place by the same file).
    /// </summary>
    public static async Task<ClusterCliEngine> StartAsync(LocalClusterOptions options, Llama4TextConfig config, Action<string> log,
        PlacementPlan? plan = null)
    {
        var watch = Stopwatch.StartNew();
        var tokenizer = Llama4Tokenizer.ExistsIn(options.ModelDirectory) ? Llama4Tokenizer.Load(options.ModelDirectory) : null;
        var cluster = await LocalClusterLauncher.StartAsync(options, log);
        try
        {
            // The same stop tokens as LocalEngine: the config's eos ids plus the tokenizer's stop tokens.
            var eos = config.EosTokenIds.Concat(tokenizer?.StopTokenIds ?? []).Distinct().ToArray();
            var vision = VisionInputs.FromModelDirectory(options.ModelDirectory);
            var engine = plan is null
                ? new ClusterEngine(cluster.Client, config, options.AttentionRanks, options.ShardsPerLayer, eos) { SharedExperts = options.SharedExperts, Vision = vision }
                : new ClusterEngine(cluster.Client, config, plan, eos) { Vision = vision }; // the plan says where the shared experts run
            log($"cluster: loading weights ({options.AttentionRanks} attention rank(s), {options.ShardsPerLayer} shards × {Enumerable.Range(0, config.NumHiddenLayers).Count(config.IsMoeLayer)} MoE layers)");
            // The client learns the silos' grain types shortly after they join; until then calls fail
            // with "No active nodes are compatible with grain ...". Retry that, briefly, only.
            var typesDeadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
            IReadOnlyList<Contracts.Experts.ExpertShardInfo> shards;
            IReadOnlyList<Contracts.Attention.AttentionRankInfo> ranks;
            while (true)
            {
                try
                {
                    (ranks, shards) = await engine.LoadAsync();
                    break;
                }
                catch (Orleans.Runtime.OrleansException e) when (DateTime.UtcNow < typesDeadline && e.Message.Contains("No active nodes are compatible", StringComparison.Ordinal))
                {
                    await Task.Delay(250);
                }
            }
            int silos = shards.Select(s => s.Silo).Distinct().Count();
            int stages = ranks.Count == 0 ? 1 : ranks.Max(r => r.Stages);
            string staged = stages > 1 ? string.Create(CultureInfo.InvariantCulture, $", attention ranks in {stages} pipeline stages") : "";
            log(string.Create(CultureInfo.InvariantCulture, $"cluster: ready, expert shards on {silos} silo(s){staged} ({watch.Elapsed.TotalSeconds:F1} s)"));
            return new ClusterCliEngine(cluster, engine, tokenizer, watch.Elapsed.TotalSeconds);
        }
        catch (Exception e) when (e is not ClusterStartException)
        {
            string silos = cluster.SiloOutput();
            cluster.Dispose();
            throw new ClusterStartException($"the cluster failed to load the model: {e.Message}{silos}");
        }
        catch
        {
            cluster.Dispose();
            throw;
        }
    }

    public Task<IReadOnlyList<GenerationResult>> GenerateAsync(IReadOnlyList<GenerationRequest> requests, Action<int, SampledToken>? onToken = null) =>
        Engine.GenerateAsync(requests, onToken);

    public float[][] Logits(IReadOnlyList<int> tokens, IReadOnlyList<ImageTiles>? images = null) =>
        Engine.LogitsAsync(tokens, images).GetAwaiter().GetResult();

    public VisionInputs? Vision => Engine.Vision;

    public void Dispose() => _cluster.Dispose();
}
