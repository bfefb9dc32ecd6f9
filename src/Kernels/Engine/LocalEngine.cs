using System.Diagnostics;
using Llama4Cluster.Core.Scheduling;
using Llama4Cluster.Core.Generation;
using Llama4Cluster.Core.Guidance;
using Llama4Cluster.Kernels.Checkpoints;
using Llama4Cluster.Kernels.Model;
using Llama4Cluster.Core.Sampling;
using Llama4Cluster.Core.Tokenization;
using Llama4Cluster.Core.Vision;
using Llama4Cluster.Kernels.Vision;
using TorchSharp;

namespace Llama4Cluster.Kernels.Engine;

/// <summary>
/// A single-process Llama 4 engine: loads a checkpoint and runs batched generation through the same step loop and
/// attention-rank core as the cluster. It is the reference the distributed engine is compared with. Its rank may be split
/// into pipeline stages (<see cref="LocalEngineOptions.Stages"/>), one core per stage chained in process. Not thread-safe:
/// one call at a time.
/// </summary>
public sealed class LocalEngine : IDisposable
{
    private AttentionRankCore? _core; // kept across calls: its prefix cache outlives one batch
    private readonly List<AttentionRankCore> _stageCores = new();

    private LocalEngine(IReadOnlyList<Llama4TextModel> stages, Llama4Tokenizer? tokenizer, LocalEngineOptions options, double loadSeconds,
        VisionTower? vision = null)
    {
        StageModels = stages;
        Vision = vision;
        var model = stages[0];
        Model = model;
        Tokenizer = tokenizer;
        Options = options;
        _guidance = tokenizer is null ? null : new GuidanceEngine(() => TokenTrie.FromTokenizer(tokenizer, model.Config.VocabSize));
        LoadSeconds = loadSeconds;
    }

    private readonly GuidanceEngine? _guidance;

    /// <summary>The rank's model; on a staged engine, its first stage (the others are <see cref="StageModels"/>).</summary>
    public Llama4TextModel Model { get; }

    /// <summary>The rank's stages in order (one: the whole model).</summary>
    public IReadOnlyList<Llama4TextModel> StageModels { get; }

    /// <summary>The hand-offs between the stages (stage s to s + 1); empty before the first call or with one stage.</summary>
    public IReadOnlyList<LocalStageLink> StageLinks { get; private set; } = [];
    public Llama4Tokenizer? Tokenizer { get; }

    /// <summary>The checkpoint's vision tower (images in prompts); null for a text-only checkpoint.</summary>
    public VisionTower? Vision { get; }

    public LocalEngineOptions Options { get; }
    public double LoadSeconds { get; }

    /// <summary>Seconds <see cref="WarmUp"/> took; 0 until it has run.</summary>
    public double WarmUpSeconds { get; private set; }

    /// <summary>Timings of the last <see cref="GenerateAsync"/> call.</summary>
    public GenerationTimings? LastTimings { get; private set; }

    /// <summary>
    /// Loads config, weights and (when present) the tokenizer from a Hugging Face checkpoint directory.
    /// Errors name the file and tensor at fault.
    /// </summary>
    public static LocalEngine Load(string modelDirectory, LocalEngineOptions options, IProgress<LoadProgress>? progress = null, Action<string>? warn = null)
    {
        if (options.Threads is { } threads)
        {
            torch.set_num_threads(threads);
            Cpu.CpuWorkerPool.ConfigureShared(threads);
        }
        var watch = Stopwatch.StartNew();
        using var reader = CheckpointReader.Open(modelDirectory, warn);
        var source = new CheckpointWeightSource(reader);
        var models = new List<Llama4TextModel>();
        Llama4Tokenizer? tokenizer = null;
        VisionTower? vision = null;
        try
        {
            IReadOnlyList<LayerRange> ranges = options.Stages == 1 ? [LayerRange.All(source.Config)] : LayerRange.Split(source.Config.NumHiddenLayers, options.Stages);
            foreach (var range in ranges)
                models.Add(Llama4TextModel.Load(source, new ModelOptions
                {
                    ComputeDType = options.ComputeDType, Device = options.Device, LocalMoe = options.LocalMoe, Layers = options.Stages == 1 ? null : range,
                    BatchInvariant = options.BatchInvariant,
                }, progress: progress));
            vision = VisionTower.Load(modelDirectory, source, models[0].Options);
            tokenizer = Llama4Tokenizer.ExistsIn(modelDirectory) ? Llama4Tokenizer.Load(modelDirectory) : null;
        }
        catch
        {
            foreach (var m in models) m.Dispose();
            vision?.Dispose();
            throw;
        }
        return new LocalEngine(models, tokenizer, options, watch.Elapsed.TotalSeconds, vision);
    }

    /// <summary>Wraps an already loaded model (tests, benchmarks).</summary>
    public static LocalEngine FromModel(Llama4TextModel model, Llama4Tokenizer? tokenizer = null, LocalEngineOptions? options = null) =>
        new([model], tokenizer, options ?? new LocalEngineOptions { ComputeDType = model.Options.ComputeDType, Device = model.Options.Device }, 0);

    /// <summary>The eos ids a sampler stops on: the config's, plus the tokenizer's stop tokens when one is loaded.</summary>
    public IReadOnlyList<int> EosTokenIds =>
        Model.Config.EosTokenIds.Concat(Tokenizer?.StopTokenIds ?? []).Distinct().ToArray();

    /// <summary>fp32 logits of every position of <paramref name="tokens"/> as one fresh sequence; <paramref name="images"/>
    /// (in prompt order) fill its <c>&lt;|patch|&gt;</c> positions, whose count they must match.</summary>
    public float[][] Logits(IReadOnlyList<int> tokens, IReadOnlyList<ImageTiles>? images = null)
    {
        if (tokens.Count == 0) throw new ArgumentException("at least one token is needed", nameof(tokens));
        VisionInputs.CheckPrompt(Vision?.Inputs, tokens.ToArray(), images);
        var features = images is { Count: > 0 } ? new ImageFeatureCursor(Vision!.Model.Encode(images), Vision.Inputs.PatchTokenId) : null;

        var caches = StageModels.Select(m => m.CreateCache()).ToArray();
        try
        {
            return Logits(tokens, caches, features);
        }
        finally
        {
            foreach (var c in caches) c.Dispose();
            features?.Dispose();
        }
    }

    private float[][] Logits(IReadOnlyList<int> tokens, KvCache[] caches, ImageFeatureCursor? features)
    {
        var rows = new List<float[]>(tokens.Count);
        int vocab = Model.Config.VocabSize;
        for (int at = 0; at < tokens.Count; at += Options.MaxStepTokens)
        {
            int n = Math.Min(Options.MaxStepTokens, tokens.Count - at);
            var chunk = Slice(tokens, at, n);
            torch.Tensor? x = null;
            for (int s = 0; s < StageModels.Count; s++)
            {
                var image = s == 0 ? features?.For(chunk) : null;
                var next = StageModels[s].ForwardAsync([new SequenceSlice(caches[s], chunk, LogitsRequest.All) { Image = image }], x, default).AsTask().GetAwaiter().GetResult();
                x?.Dispose();
                x = next;
            }

            features?.Advance(chunk);
            using var logits = x!;
            var data = Cpu.TensorData.ToFloatArray(logits);
            for (int r = 0; r < n; r++)
                rows.Add(data.AsSpan(r * vocab, vocab).ToArray());
        }
        return rows.ToArray();
    }

    /// <summary>The limits a request is checked against: vocabulary, context (max_position_embeddings), EOS ids.</summary>
    public ModelLimits Limits => new(Model.Config.VocabSize, Model.Config.MaxPositionEmbeddings, EosTokenIds, Vision?.Inputs);

    /// <summary>
    /// Generates for every request through the one batching loop (<see cref="BatchGeneration"/> over a
    /// <see cref="LocalStepBackend"/>): prompts prefilled in chunks under <see cref="LocalEngineOptions.MaxStepTokens"/>,
    /// decodes first, finished sequences dropping out. <paramref name="onToken"/> receives (request index, token) as each
    /// token is sampled, in order per request.
    /// </summary>
    public Task<IReadOnlyList<GenerationResult>> GenerateAsync(
        IReadOnlyList<GenerationRequest> requests, Action<int, SampledToken>? onToken = null, CancellationToken cancellationToken = default) =>
        GenerateAsync(requests, new BatchGenerationOptions { MaxStepTokens = Options.MaxStepTokens }, onToken, cancellationToken);

    /// <summary>As the overload above, with the step policy and a step observer in <paramref name="batch"/> (the benchmarks).</summary>
    public async Task<IReadOnlyList<GenerationResult>> GenerateAsync(IReadOnlyList<GenerationRequest> requests, BatchGenerationOptions batch,
        Action<int, SampledToken>? onToken = null, CancellationToken cancellationToken = default)
    {
        _core ??= CreateCore();
        using var backend = new LocalStepBackend(_core);
        var (results, timings) = await BatchGeneration.RunAsync(backend, Limits, batch, requests, onToken, cancellationToken)
            .ConfigureAwait(false);
        LastTimings = timings;
        return results;
    }

    /// <summary>
    /// Runs one throwaway generation (a prompt longer than the decode kernels' row limits, then two decode steps), so .NET
    /// compiles the step loop's code now rather than inside the first request: on bench-0.8b, 0.25–0.28 s of a 512-token
    /// prefill and ~45 ms of the first decode step were compilation. Serving systems warm up at start for the same reason
    /// (llama.cpp decodes a warm-up batch at load). Leaves no trace: it runs on its own rank core, discarded with its
    /// prefix cache, and <see cref="LastTimings"/> keeps its value. Returns the seconds taken (<see cref="WarmUpSeconds"/>).
    /// </summary>
    public double WarmUp()
    {
        var watch = Stopwatch.StartNew();
        var (core, stageCores, links, timings) = (_core, _stageCores.ToArray(), StageLinks, LastTimings);
        _core = null;
        _stageCores.Clear();
        try
        {
            GenerateAsync(WarmUpRequests.Create(1, Model.Config.VocabSize, Model.Config.MaxPositionEmbeddings, Vision?.Inputs.PatchTokenId))
                .GetAwaiter().GetResult();
        }
        finally
        {
            if (_stageCores.Count == 0) _core?.Dispose();
            foreach (var c in _stageCores) c.Dispose();
            (_core, StageLinks, LastTimings) = (core, links, timings);
            _stageCores.Clear();
            _stageCores.AddRange(stageCores);
        }

        WarmUpSeconds = watch.Elapsed.TotalSeconds;
        return WarmUpSeconds;
    }

    /// <summary>The rank's core: one over the whole model, or the first of a chain of stage cores (built from the last).</summary>
    private AttentionRankCore CreateCore()
    {
        if (StageModels.Count == 1) return new AttentionRankCore(Model, prefixCache: Options.PrefixCache, guidance: _guidance, vision: Vision);
        AttentionRankCore? next = null;
        var links = new List<LocalStageLink>();
        for (int s = StageModels.Count - 1; s >= 0; s--)
        {
            LocalStageLink? link = next is null ? null : new LocalStageLink(next);
            if (link is not null) links.Insert(0, link);
            next = new AttentionRankCore(StageModels[s], guidance: _guidance, next: link, vision: s == 0 ? Vision : null);
            _stageCores.Add(next);
        }

        StageLinks = links;
        return next!;
    }

    private static int[] Slice(IReadOnlyList<int> list, int start, int count)
    {
        var a = new int[count];
        for (int i = 0; i < count; i++) a[i] = list[start + i];
        return a;
    }

    /// <summary>The rank core that <see cref="GenerateAsync"/> runs on (its <see cref="AttentionRankCore.PrefixCache"/>); null before the first call.</summary>
    public AttentionRankCore? Core => _core;

    public void Dispose()
    {
        if (_stageCores.Count == 0) _core?.Dispose();
        foreach (var core in _stageCores) core.Dispose();
        foreach (var model in StageModels) model.Dispose();
        Vision?.Dispose();
    }
}
