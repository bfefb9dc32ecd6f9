using System.Diagnostics;
using Llama4Cluster.Core.Scheduling;
using Llama4Cluster.Core.Generation;
using Llama4Cluster.Core.Guidance;
using Llama4Cluster.Kernels.Checkpoints;
using Llama4Cluster.Kernels.Model;
using Llama4Cluster.Core.Sampling;
using Llama4Cluster.Core.Tokenization;
using TorchSharp;

namespace Llama4Cluster.Kernels.Engine;

/// <summary>
/// A single-process Llama 4 engine: loads a checkpoint and runs batched generation through the same step loop and
/// attention-rank core as the cluster. It is the reference the distributed engine is compared with. Not thread-safe:
/// one call at a time.
/// </summary>
public sealed class LocalEngine : IDisposable
{
    private AttentionRankCore? _core; // kept across calls: its prefix cache outlives one batch

    private LocalEngine(Llama4TextModel model, Llama4Tokenizer? tokenizer, LocalEngineOptions options, double loadSeconds)
    {
        Model = model;
        Tokenizer = tokenizer;
        Options = options;
        _guidance = tokenizer is null ? null : new GuidanceEngine(() => TokenTrie.FromTokenizer(tokenizer, model.Config.VocabSize));
        LoadSeconds = loadSeconds;
    }

    private readonly GuidanceEngine? _guidance;

    public Llama4TextModel Model { get; }
    public Llama4Tokenizer? Tokenizer { get; }
    public LocalEngineOptions Options { get; }
    public double LoadSeconds { get; }

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
        var model = Llama4TextModel.Load(new CheckpointWeightSource(reader),
            new ModelOptions { ComputeDType = options.ComputeDType, Device = options.Device, LocalMoe = options.LocalMoe }, progress: progress);
        Llama4Tokenizer? tokenizer = null;
        try
        {
            tokenizer = Llama4Tokenizer.ExistsIn(modelDirectory) ? Llama4Tokenizer.Load(modelDirectory) : null;
        }
        catch
        {
            model.Dispose();
            throw;
        }
        return new LocalEngine(model, tokenizer, options, watch.Elapsed.TotalSeconds);
    }

    /// <summary>Wraps an already loaded model (tests, benchmarks).</summary>
    public static LocalEngine FromModel(Llama4TextModel model, Llama4Tokenizer? tokenizer = null, LocalEngineOptions? options = null) =>
        new(model, tokenizer, options ?? new LocalEngineOptions { ComputeDType = model.Options.ComputeDType, Device = model.Options.Device }, 0);

    /// <summary>The eos ids a sampler stops on: the config's, plus the tokenizer's stop tokens when one is loaded.</summary>
    public IReadOnlyList<int> EosTokenIds =>
        Model.Config.EosTokenIds.Concat(Tokenizer?.StopTokenIds ?? []).Distinct().ToArray();

    /// <summary>fp32 logits of every position of <paramref name="tokens"/> as one fresh sequence.</summary>
    public float[][] Logits(IReadOnlyList<int> tokens)
    {
        if (tokens.Count == 0) throw new ArgumentException("at least one token is needed", nameof(tokens));
        using var cache = Model.CreateCache();
        var rows = new List<float[]>(tokens.Count);
        int vocab = Model.Config.VocabSize;
        for (int at = 0; at < tokens.Count; at += Options.MaxStepTokens)
        {
            int n = Math.Min(Options.MaxStepTokens, tokens.Count - at);
            using var logits = Model.Forward([new SequenceSlice(cache, Slice(tokens, at, n), LogitsRequest.All)])!;
            using var cpu = logits.cpu();
            var data = cpu.data<float>().ToArray();
            for (int r = 0; r < n; r++)
                rows.Add(data.AsSpan(r * vocab, vocab).ToArray());
        }
        return rows.ToArray();
    }

    /// <summary>The limits a request is checked against: vocabulary, context (max_position_embeddings), EOS ids.</summary>
    public ModelLimits Limits => new(Model.Config.VocabSize, Model.Config.MaxPositionEmbeddings, EosTokenIds);

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
        _core ??= new AttentionRankCore(Model, prefixCache: Options.PrefixCache, guidance: _guidance);
        using var backend = new LocalStepBackend(_core);
        var (results, timings) = await BatchGeneration.RunAsync(backend, Limits, batch, requests, onToken, cancellationToken)
            .ConfigureAwait(false);
        LastTimings = timings;
        return results;
    }

    private static IReadOnlyList<int> Slice(IReadOnlyList<int> list, int start, int count)
    {
        var a = new int[count];
        for (int i = 0; i < count; i++) a[i] = list[start + i];
        return a;
    }

    /// <summary>The rank core that <see cref="GenerateAsync"/> runs on (its <see cref="AttentionRankCore.PrefixCache"/>); null before the first call.</summary>
    public AttentionRankCore? Core => _core;

    public void Dispose()
    {
        _core?.Dispose();
        Model.Dispose();
    }
}
