using System.Collections.Immutable;
using Llama4Cluster.Cluster.Placement;
using Llama4Cluster.Cluster.Stepping;
using Llama4Cluster.Contracts.Attention;
using Llama4Cluster.Contracts.Experts;
using Llama4Cluster.Core.Config;
using Llama4Cluster.Core.Vision;
using Llama4Cluster.Core.Generation;
using Llama4Cluster.Core.Sampling;
using Llama4Cluster.Core.Scheduling;

namespace Llama4Cluster.Cluster.Engine;

/// <summary>
/// Drives the cluster the way <c>LocalEngine</c> drives one process, with the same step loop
/// (<see cref="BatchGeneration"/>): it owns every sequence's tokens, spreads sequences over the attention ranks (the
/// least loaded first), and runs one <see cref="IAttentionGrain.StepAsync"/> per rank per step, all ranks in flight at
/// once. Not thread-safe: one call at a time.
/// </summary>
public sealed class ClusterEngine
{
    private static long s_nextSequence = DateTime.UtcNow.Ticks;
    private readonly IGrainFactory _grains;
    private readonly ClusterStepBackend _backend;
    private long _step;

    public ClusterEngine(IGrainFactory grains, Llama4TextConfig config, int attentionRanks, int shardsPerLayer, IReadOnlyList<int>? eosTokenIds = null)
    {
        ArgumentNullException.ThrowIfNull(grains);
        ArgumentNullException.ThrowIfNull(config);
        _grains = grains;
        _backend = new ClusterStepBackend(grains, attentionRanks);
        Config = config;
        AttentionRanks = attentionRanks;
        ShardsPerLayer = shardsPerLayer;
        EosTokenIds = eosTokenIds ?? config.EosTokenIds;
    }

    /// <summary>
    /// The engine for a cluster placed by <paramref name="plan"/>: the shards per layer and the attention ranks are the plan's,
    /// so they cannot disagree with what the silos place. Throws <see cref="ArgumentException"/> when the plan was made for a
    /// model of another shape (layers, MoE layers, experts per layer).
    /// </summary>
    public ClusterEngine(IGrainFactory grains, Llama4TextConfig config, PlacementPlan plan, IReadOnlyList<int>? eosTokenIds = null)
        : this(grains, config, CheckedPlan(config, plan).AttentionRanks.Length, plan.ShardsPerLayer, eosTokenIds)
    {
        SharedExperts = plan.SharedExperts;
    }

    private static PlacementPlan CheckedPlan(Llama4TextConfig config, PlacementPlan plan)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(plan);
        var moe = Enumerable.Range(0, config.NumHiddenLayers).Where(config.IsMoeLayer).ToArray();
        int experts = moe.Length == 0 ? 0 : config.NumLocalExperts;
        var f = plan.Footprint;
        if (f.Layers != config.NumHiddenLayers || f.ExpertsPerLayer != experts || !f.MoeLayers.SequenceEqual(moe))
            throw new ArgumentException($"the placement plan is for {f.Layers} layers, {f.MoeLayers.Length} MoE layers × {f.ExpertsPerLayer} experts; " +
                $"the model has {config.NumHiddenLayers} layers, {moe.Length} MoE layers × {experts} experts", nameof(plan));
        if (plan.AttentionRanks.IsDefaultOrEmpty) throw new ArgumentException("the placement plan has no attention ranks", nameof(plan));
        return plan;
    }

    public Llama4TextConfig Config { get; }
    public int AttentionRanks { get; }
    public int ShardsPerLayer { get; }
    public IReadOnlyList<int> EosTokenIds { get; }

    /// <summary>Where the silos run each MoE layer's shared expert (their <c>--shared-experts</c>): with
    /// <see cref="SharedExpertPlacement.Shards"/> every MoE layer has one more shard, index <see cref="ShardsPerLayer"/>, which
    /// <see cref="LoadAsync"/> activates too.</summary>
    public SharedExpertPlacement SharedExperts { get; init; } = SharedExpertPlacement.Rank;

    /// <summary>Expert shards per MoE layer, the shared-expert shard included.</summary>
    public int ShardGrainsPerLayer => ShardsPerLayer + (SharedExperts == SharedExpertPlacement.Shards ? 1 : 0);

    /// <summary>Timings of the last <see cref="GenerateAsync"/> call.</summary>
    public GenerationTimings? LastTimings { get; private set; }

    /// <summary>Activates every attention rank and expert shard (each loads its weights) and describes them.</summary>
    public async Task<(IReadOnlyList<AttentionRankInfo> Ranks, IReadOnlyList<ExpertShardInfo> Shards)> LoadAsync()
    {
        var shards = Enumerable.Range(0, Config.NumHiddenLayers).Where(Config.IsMoeLayer)
            .SelectMany(layer => Enumerable.Range(0, ShardGrainsPerLayer).Select(s => Shard(layer, s).DescribeAsync()))
            .ToArray();
        var ranks = Enumerable.Range(0, AttentionRanks).Select(r => Rank(r).DescribeAsync()).ToArray();
        return (await Task.WhenAll(ranks), await Task.WhenAll(shards));
    }

    public IExpertShardGrain Shard(int layer, int shard) => _grains.GetGrain<IExpertShardGrain>(new ExpertShardKey(layer, shard).Format());

    public IAttentionGrain Rank(int rank) => _backend.Rank(rank);

    /// <summary>Every pipeline stage of <paramref name="rank"/> described, stage 0 first (one record for an unstaged rank): the
    /// rank's own record says how many stages it has.</summary>
    public async Task<IReadOnlyList<AttentionRankInfo>> DescribeStagesAsync(int rank)
    {
        var first = await Rank(rank).DescribeAsync();
        var later = await Task.WhenAll(Enumerable.Range(1, Math.Max(0, first.Stages - 1))
            .Select(s => _grains.GetGrain<IAttentionStageGrain>(PlacementKey.ForAttentionStage(rank, s).ToString()).DescribeAsync()));
        return [first, .. later];
    }

    /// <summary>The limits a request is checked against: vocabulary, context (max_position_embeddings), EOS ids.</summary>
    public ModelLimits Limits => new(Config.VocabSize, Config.MaxPositionEmbeddings, EosTokenIds, Vision);

    /// <summary>The image input the ranks' vision tower takes (<see cref="VisionInputs.FromModelDirectory"/>); null: the model
    /// takes no images.</summary>
    public VisionInputs? Vision { get; init; }

    /// <summary>Most tokens in one engine step (each rank further splits a step into passes under its message budget).</summary>
    public int MaxStepTokens { get; init; } = 8192;

    /// <summary>fp32 logits of every position of <paramref name="tokens"/> as one fresh sequence (exactness tests), on rank 0.</summary>
    public async Task<float[][]> LogitsAsync(IReadOnlyList<int> tokens, CancellationToken cancellationToken = default) =>
        await LogitsAsync(tokens, null, cancellationToken);

    /// <summary>As <see cref="LogitsAsync(IReadOnlyList{int}, CancellationToken)"/>, with the prompt's images filling its
    /// <c>&lt;|patch|&gt;</c> positions (their count must match).</summary>
    public async Task<float[][]> LogitsAsync(IReadOnlyList<int> tokens, IReadOnlyList<ImageTiles>? images, CancellationToken cancellationToken = default)
    {
        var prompt = tokens.ToArray();
        VisionInputs.CheckPrompt(Vision, prompt, images);
        long id = Interlocked.Increment(ref s_nextSequence);
        try
        {
            var work = new SequenceWork(id, prompt, new SequenceSettings(new SamplingParams(), EosTokenIds, Images: images is { Count: > 0 } ? images : null),
                Sample: false, ReturnLogits: true);
            var result = await _backend.StepAsync(0, new RankStep(Interlocked.Increment(ref _step), [work]), cancellationToken);
            var all = result.Logits ?? throw new InvalidOperationException("the rank returned no logits");
            int vocab = all.Length / result.LogitRows;
            return Enumerable.Range(0, result.LogitRows).Select(r => all.AsSpan(r * vocab, vocab).ToArray()).ToArray();
        }
        finally
        {
            await ReleaseQuietlyAsync(Rank(0), [id]);
        }
    }

    /// <summary>
    /// Generates for every request through the one batching loop (<see cref="BatchGeneration"/> over a
    /// <see cref="ClusterStepBackend"/>): the same step loop and results as <c>LocalEngine.GenerateAsync</c>.
    /// </summary>
    public async Task<IReadOnlyList<GenerationResult>> GenerateAsync(IReadOnlyList<GenerationRequest> requests, Action<int, SampledToken>? onToken = null,
        CancellationToken cancellationToken = default)
    {
        var (results, timings) = await BatchGeneration.RunAsync(_backend, Limits, MaxStepTokens, requests, onToken, cancellationToken);
        LastTimings = timings;
        return results;
    }

    /// <summary>
    /// Runs the generation path once before the first request, so that every silo that holds a rank or a shard compiles
    /// its step code now rather than on a client's first steps (the silo processes keep .NET's tiered compilation, under
    /// which a fresh process's first steps ran 2–4× slower here): one throwaway sequence per attention rank
    /// (<see cref="WarmUpRequests"/>), whose results are discarded. Like any prompt, its blocks may stay in the rank's prefix
    /// cache; <see cref="LastTimings"/> keeps its value. Returns the seconds taken.
    /// </summary>
    public async Task<double> WarmUpAsync(CancellationToken cancellationToken = default)
    {
        var watch = System.Diagnostics.Stopwatch.StartNew();
        await WarmUpRequests.RunAsync(_backend, Limits, MaxStepTokens, cancellationToken);
        return watch.Elapsed.TotalSeconds;
    }

    /// <summary>Best effort: a failed release must not hide the error that ended the generation.</summary>
    private static async Task ReleaseQuietlyAsync(IAttentionGrain rank, ImmutableArray<long> ids)
    {
        try
        {
            await rank.ReleaseAsync(ids);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // The rank is gone or failing; its state dies with it.
        }
    }
}
