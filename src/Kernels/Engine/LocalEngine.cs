using System.Diagnostics;
using Llama4Cluster.Core.Generation;
using Llama4Cluster.Kernels.Checkpoints;
using Llama4Cluster.Kernels.Model;
using Llama4Cluster.Core.Sampling;
using Llama4Cluster.Core.Tokenization;
using TorchSharp;

namespace Llama4Cluster.Kernels.Engine;

/// <summary>
/// A single-process Llama 4 engine: loads a checkpoint, runs batched generation (prompts prefilled in
/// chunks under a per-step token budget, then all sequences decoded together, finished ones dropping
/// out). It is the reference the distributed engine is compared with. Not thread-safe: one call at a time.
/// </summary>
public sealed class LocalEngine : IDisposable
{
    private LocalEngine(Llama4TextModel model, Llama4Tokenizer? tokenizer, LocalEngineOptions options, double loadSeconds)
    {
        Model = model;
        Tokenizer = tokenizer;
        Options = options;
        LoadSeconds = loadSeconds;
    }

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
            new ModelOptions { ComputeDType = options.ComputeDType, Device = options.Device }, progress: progress);
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

    /// <summary>
    /// Generates for every request in one batched loop. <paramref name="onToken"/> receives
    /// (request index, token) as each token is sampled.
    /// </summary>
    public async Task<IReadOnlyList<GenerationResult>> GenerateAsync(
        IReadOnlyList<GenerationRequest> requests, Action<int, SampledToken>? onToken = null, CancellationToken cancellationToken = default)
    {
        var eos = EosTokenIds;
        var states = new List<SequenceState>(requests.Count);
        try
        {
            for (int i = 0; i < requests.Count; i++)
            {
                var r = requests[i];
                r.Sampling.Validate();
                if (r.PromptTokens.Count == 0) throw new ArgumentException($"request {i}: the prompt is empty");
                int limit = Model.Config.MaxPositionEmbeddings;
                if (limit > 0 && r.PromptTokens.Count + r.Sampling.MaxTokens > limit)
                    throw new ArgumentException($"request {i}: prompt ({r.PromptTokens.Count} tokens) + max tokens ({r.Sampling.MaxTokens}) exceeds the model's context of {limit}");
                states.Add(new SequenceState(i, r, new Sampler(r.Sampling, eos), Model.CreateCache()));
            }

            double prefillSeconds = 0, decodeSeconds = 0;
            int prefillTokens = 0, decodeTokens = 0, steps = 0;
            var slices = new List<SequenceSlice>();
            var owners = new List<SequenceState>();
            while (states.Any(s => !s.Finished))
            {
                cancellationToken.ThrowIfCancellationRequested();
                slices.Clear();
                owners.Clear();
                int budget = Options.MaxStepTokens;
                bool anyPrefill = false;
                // Decode tokens first (one each), then prompt chunks with what is left of the budget.
                foreach (var s in states.Where(s => !s.Finished && s.PrefillDone))
                {
                    slices.Add(new SequenceSlice(s.Cache, [s.Pending], LogitsRequest.Last));
                    owners.Add(s);
                    budget--;
                }
                foreach (var s in states.Where(s => !s.Finished && !s.PrefillDone))
                {
                    if (budget <= 0 && slices.Count > 0) break;
                    int n = Math.Min(Math.Max(budget, 1), s.Request.PromptTokens.Count - s.Prefilled);
                    bool last = s.Prefilled + n == s.Request.PromptTokens.Count;
                    slices.Add(new SequenceSlice(s.Cache, Slice(s.Request.PromptTokens, s.Prefilled, n), last ? LogitsRequest.Last : LogitsRequest.None));
                    owners.Add(s);
                    budget -= n;
                    anyPrefill = true;
                }

                var watch = Stopwatch.StartNew();
                using var logits = await Model.ForwardAsync(slices, cancellationToken).ConfigureAwait(false);
                float[]? rows = null;
                if (logits is not null)
                {
                    using var cpu = logits.cpu();
                    rows = cpu.data<float>().ToArray();
                }
                int vocab = Model.Config.VocabSize;
                int row = 0;
                for (int k = 0; k < owners.Count; k++)
                {
                    var s = owners[k];
                    if (!s.PrefillDone)
                    {
                        s.Prefilled += slices[k].Tokens.Count;
                        prefillTokens += slices[k].Tokens.Count;
                        if (!s.PrefillDone) continue;
                    }
                    else
                    {
                        s.Generated.Add(s.Pending);
                        decodeTokens++;
                    }
                    var sampled = s.Sampler.Sample(rows.AsSpan(row * vocab, vocab), s.Request.PromptTokens, s.Generated);
                    row++;
                    s.Accept(sampled, onToken);
                }
                watch.Stop();
                steps++;
                if (anyPrefill) prefillSeconds += watch.Elapsed.TotalSeconds;
                else decodeSeconds += watch.Elapsed.TotalSeconds;
            }
            LastTimings = new GenerationTimings(prefillSeconds, prefillTokens, decodeSeconds, decodeTokens, steps);
            return states.Select(s => s.Result()).ToArray();
        }
        finally
        {
            foreach (var s in states) s.Cache.Dispose();
        }
    }

    private static IReadOnlyList<int> Slice(IReadOnlyList<int> list, int start, int count)
    {
        var a = new int[count];
        for (int i = 0; i < count; i++) a[i] = list[start + i];
        return a;
    }

    public void Dispose() => Model.Dispose();

    private sealed class SequenceState(int index, GenerationRequest request, Sampler sampler, KvCache cache)
    {
        public GenerationRecord Record { get; } = new(index, request, sampler.IsStop);
        public GenerationRequest Request => Record.Request;
        public Sampler Sampler { get; } = sampler;
        public KvCache Cache { get; } = cache;
        public int Prefilled { get; set; }
        public bool PrefillDone => Prefilled == Request.PromptTokens.Count;
        public bool Finished => Record.Finished;
        /// <summary>Sampled, emitted, not yet fed to the model.</summary>
        public int Pending => Record.LastToken;
        /// <summary>Tokens fed back into the model after sampling (the penalties' history).</summary>
        public List<int> Generated { get; } = new();
        public void Accept(SampledToken token, Action<int, SampledToken>? onToken) => Record.Accept(token, onToken);
        public GenerationResult Result() => Record.Result();
    }
}
