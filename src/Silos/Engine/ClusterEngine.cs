using System.Collections.Immutable;
using System.Diagnostics;
using System.Runtime.InteropServices;
using Llama4Cluster.Contracts.Attention;
using Llama4Cluster.Contracts.Experts;
using Llama4Cluster.Core.Config;
using Llama4Cluster.Core.Generation;
using Llama4Cluster.Kernels.Engine;
using Llama4Cluster.Core.Sampling;
using Llama4Cluster.Cluster.Placement;
using Llama4Cluster.Silos.Placement;

namespace Llama4Cluster.Silos.Engine;

/// <summary>
/// Drives the cluster the way <see cref="LocalEngine"/> drives one process: it owns every sequence's tokens,
/// spreads sequences over the attention ranks (round robin), and runs one <see cref="IAttentionGrain.StepAsync"/>
/// per rank per step, all ranks in flight at once. Prompts go in whole (each rank splits them to its message
/// budget); then every live sequence decodes one token per step. Not thread-safe: one call at a time.
/// </summary>
public sealed class ClusterEngine
{
    private static long s_nextSequence = DateTime.UtcNow.Ticks;
    private readonly IGrainFactory _grains;
    private long _step;

    public ClusterEngine(IGrainFactory grains, Llama4TextConfig config, int attentionRanks, int shardsPerLayer, IReadOnlyList<int>? eosTokenIds = null)
    {
        ArgumentNullException.ThrowIfNull(grains);
        ArgumentNullException.ThrowIfNull(config);
        _grains = grains;
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

    /// <summary>Timings of the last <see cref="GenerateAsync"/> call.</summary>
    public GenerationTimings? LastTimings { get; private set; }

    /// <summary>Activates every attention rank and expert shard (each loads its weights) and describes them.</summary>
    public async Task<(IReadOnlyList<AttentionRankInfo> Ranks, IReadOnlyList<ExpertShardInfo> Shards)> LoadAsync()
    {
        var shards = Enumerable.Range(0, Config.NumHiddenLayers).Where(Config.IsMoeLayer)
            .SelectMany(layer => Enumerable.Range(0, ShardsPerLayer).Select(s => Shard(layer, s).DescribeAsync()))
            .ToArray();
        var ranks = Enumerable.Range(0, AttentionRanks).Select(r => Rank(r).DescribeAsync()).ToArray();
        return (await Task.WhenAll(ranks), await Task.WhenAll(shards));
    }

    public IExpertShardGrain Shard(int layer, int shard) => _grains.GetGrain<IExpertShardGrain>(new ExpertShardKey(layer, shard).Format());

    public IAttentionGrain Rank(int rank) => _grains.GetGrain<IAttentionGrain>(rank);

    /// <summary>fp32 logits of every position of <paramref name="tokens"/> as one fresh sequence (exactness tests), on rank 0.</summary>
    public async Task<float[][]> LogitsAsync(IReadOnlyList<int> tokens, CancellationToken cancellationToken = default)
    {
        long id = Interlocked.Increment(ref s_nextSequence);
        var rank = Rank(0);
        try
        {
            var step = new SequenceStep(id, [.. tokens], new SequenceStart { EosTokenIds = [.. EosTokenIds] }, Sample: false, ReturnLogits: true);
            var response = await rank.StepAsync(new StepRequest(Interlocked.Increment(ref _step), [step]), cancellationToken);
            var payload = response.Logits ?? throw new InvalidOperationException("the rank returned no logits");
            var all = MemoryMarshal.Cast<byte, float>(payload.Data.Span);
            int vocab = (int)payload.Shape[1];
            var rows = new float[(int)payload.Shape[0]][];
            for (int r = 0; r < rows.Length; r++) rows[r] = all.Slice(r * vocab, vocab).ToArray();
            payload.ReturnBuffer();
            return rows;
        }
        finally
        {
            await ReleaseQuietlyAsync(rank, [id]);
        }
    }

    /// <summary>Generates for every request; same results as <see cref="LocalEngine.GenerateAsync"/> for greedy sampling.</summary>
    public async Task<IReadOnlyList<GenerationResult>> GenerateAsync(IReadOnlyList<GenerationRequest> requests, Action<int, SampledToken>? onToken = null,
        CancellationToken cancellationToken = default)
    {
        var states = new List<Sequence>(requests.Count);
        for (int i = 0; i < requests.Count; i++)
        {
            var r = requests[i];
            r.Sampling.Validate();
            if (r.PromptTokens.Count == 0) throw new ArgumentException($"request {i}: the prompt is empty");
            states.Add(new Sequence(i, Interlocked.Increment(ref s_nextSequence), i % AttentionRanks, r, EosTokenIds));
        }
        double prefillSeconds = 0, decodeSeconds = 0;
        int prefillTokens = 0, decodeTokens = 0, steps = 0;
        try
        {
            while (states.Any(s => !s.Finished))
            {
                cancellationToken.ThrowIfCancellationRequested();
                long step = Interlocked.Increment(ref _step);
                var live = states.Where(s => !s.Finished).ToList();
                bool prefill = live.Any(s => !s.Started);
                var byRank = live.GroupBy(s => s.Rank).ToArray();
                var watch = Stopwatch.StartNew();
                var calls = byRank.Select(g => Rank(g.Key).StepAsync(new StepRequest(step, [.. g.Select(s => s.NextStep())]), cancellationToken)).ToArray();
                var responses = await Task.WhenAll(calls);
                watch.Stop();
                for (int k = 0; k < byRank.Length; k++)
                {
                    var members = byRank[k].ToArray();
                    var samples = responses[k].Samples;
                    for (int j = 0; j < members.Length; j++)
                    {
                        var s = members[j];
                        if (!s.Started) prefillTokens += s.Request.PromptTokens.Count;
                        else decodeTokens++;
                        s.Accept(samples[j], onToken);
                    }
                }
                steps++;
                if (prefill) prefillSeconds += watch.Elapsed.TotalSeconds;
                else decodeSeconds += watch.Elapsed.TotalSeconds;
            }
            LastTimings = new GenerationTimings(prefillSeconds, prefillTokens, decodeSeconds, decodeTokens, steps);
            return states.Select(s => s.Result()).ToArray();
        }
        finally
        {
            foreach (var g in states.GroupBy(s => s.Rank))
                await ReleaseQuietlyAsync(Rank(g.Key), [.. g.Select(s => s.Id)]);
        }
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

    /// <summary>The caller-side record of one sequence: the source of truth for its tokens.</summary>
    private sealed class Sequence(int index, long id, int rank, GenerationRequest request, IReadOnlyList<int> eos)
    {
        private readonly GenerationRecord _record = new(index, request,
            new HashSet<int>([.. request.Sampling.StopTokenIds, .. request.Sampling.IgnoreEos ? [] : eos]).Contains);

        public int Index => _record.Index;
        public long Id { get; } = id;
        public int Rank { get; } = rank;
        public GenerationRequest Request => _record.Request;
        public bool Started { get; private set; }
        public bool Finished => _record.Finished;

        public SequenceStep NextStep()
        {
            if (Started) return new SequenceStep(Id, [_record.LastToken], null, Sample: true);
            var p = Request.Sampling;
            var start = new SequenceStart
            {
                Temperature = p.Temperature, TopP = p.TopP, TopK = p.TopK, MinP = p.MinP, Seed = p.Seed,
                RepetitionPenalty = p.RepetitionPenalty, PresencePenalty = p.PresencePenalty, FrequencyPenalty = p.FrequencyPenalty,
                StopTokenIds = [.. p.StopTokenIds], IgnoreEos = p.IgnoreEos, TopLogprobs = p.TopLogprobs, EosTokenIds = [.. eos],
            };
            return new SequenceStep(Id, [.. Request.PromptTokens], start, Sample: true);
        }

        public void Accept(SampledTokenResult sample, Action<int, SampledToken>? onToken)
        {
            Started = true;
            var token = new SampledToken(sample.TokenId, sample.Logprob,
                Request.Sampling.TopLogprobs is null ? null : sample.TopLogprobs.Select(t => new TokenLogprob(t.TokenId, t.Logprob)).ToArray());
            _record.Accept(token, onToken);
        }

        public GenerationResult Result() => _record.Result();
    }
}
