using System.Buffers;
using Llama4Cluster.Core.Guidance;
using Llama4Cluster.Core.Sampling;
using Llama4Cluster.Core.Scheduling;
using Llama4Cluster.Kernels.Diagnostics;
using Llama4Cluster.Kernels.Model;
using Llama4Cluster.Kernels.Model.Moe;
using Llama4Cluster.Kernels.Vision;
using TorchSharp;

namespace Llama4Cluster.Kernels.Engine;

/// <summary>
/// One attention rank's engine core, the same in one process (<see cref="LocalStepBackend"/>) and in the cluster (the
/// attention grain is a thin adapter over it): the sequence table (each sequence's KV cache, sampler and the tokens its
/// penalties read), one <see cref="StepAsync"/> per engine step that packs the sequences' new tokens into forward passes
/// of at most <c>maxPassTokens</c> tokens (long prefills become several passes, each with its own
/// <see cref="DispatchContext"/>), and sampling. Protocol (<see cref="IStepBackend"/>): <see cref="SequenceWork.Start"/> on
/// a sequence's first step only; a step is validated whole before any state changes; a step that fails drops the state of
/// every sequence in it (their caches are part-way through the step) and reports them through
/// <see cref="SequencesDropped"/>, so the owner of the tokens can start them again by re-prefilling (a
/// <see cref="SequenceSettings.GeneratedTokens"/> start resumes the sampler where it was; its re-prefill may hit the
/// prefix cache like any other). With a <see cref="Model.PrefixCache"/>, tokens whose KV the cache holds are restored
/// rather than computed (<see cref="RankStepResult.CacheHits"/>); releasing a sequence drops its references. A sequence whose own sampling
/// fails is dropped alone and reported in <see cref="RankStepResult.Failures"/>; the step goes on for the others. Not
/// thread-safe: one step at a time.
/// <para>A rank may be split into pipeline stages (<see cref="Llama4TextModel.Stage"/>), one core per stage, each with its
/// own sequence table (its layers' KV caches). The first stage takes the engine step (<see cref="StepAsync"/>), packs the
/// passes and runs its layers; each pass is handed on (<see cref="IRankStageLink"/>: the pass's sequences as a step of their
/// own, and the hidden states) to the next stage's <see cref="PassAsync"/>, and so on to the last stage, which holds the
/// head and samples; the answer travels back. A later stage trusts its predecessor: a <see cref="SequenceWork.Start"/>
/// replaces whatever state it still holds for the sequence (left by a failed step). A one-stage rank is exactly the
/// unstaged core. Staged ranks have no prefix cache (a restore would have to agree on every stage).</para>
/// </summary>
public sealed class AttentionRankCore : IDisposable
{
    private readonly Dictionary<long, RankSequence> _sequences = new();
    private readonly Func<bool, int> _maxPassTokens;
    private readonly TimeProvider _time;
    private readonly GuidanceEngine? _guidance;
    private readonly PrefixCache? _prefixCache;
    private readonly IRankStageLink? _next;
    private readonly VisionTower? _vision;

    /// <param name="model">The rank's weights; its MoE executor reaches the experts.</param>
    /// <param name="rank">The rank's number (errors name it).</param>
    /// <param name="maxPassTokens">Most tokens in one forward pass, given whether the step returns full logits (a cluster
    /// rank keeps each pass's dispatch and logits messages under its message budget); null: no limit.</param>
    /// <param name="time">The clock of <see cref="EvictIdle"/> (tests pass their own).</param>
    /// <param name="prefixCache">The rank's prefix cache settings; null: none.</param>
    /// <param name="guidance">Structured output: the rank's tokenizer trie and compiled constraints (null: a sequence with
    /// <see cref="SequenceSettings.Guidance"/> fails alone, with a message saying so).</param>
    /// <param name="next">The hand-off to the next stage when <paramref name="model"/> is a stage without the head; null
    /// for the last (or only) stage.</param>
    /// <param name="vision">The vision tower that encodes the images of prompts (first stage only; null: the rank takes no
    /// images). Not disposed here.</param>
    public AttentionRankCore(Llama4TextModel model, int rank = 0, Func<bool, int>? maxPassTokens = null, TimeProvider? time = null,
        PrefixCacheOptions? prefixCache = null, GuidanceEngine? guidance = null, IRankStageLink? next = null, VisionTower? vision = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (vision is not null && !model.HoldsEmbeddings)
            throw new ArgumentException($"rank {rank}: the vision tower belongs to the first stage, which embeds the prompt (stage {model.Stage} does not)",
                nameof(vision));
        if (model.HoldsHead == next is not null)
            throw new ArgumentException(model.HoldsHead ? $"rank {rank}: the last stage ({model.Stage}) samples; it hands nothing on"
                : $"rank {rank}: stage {model.Stage} does not hold the head; it needs the hand-off to the next stage", nameof(next));
        if (!model.IsWhole && prefixCache is { Enabled: true })
            throw new ArgumentException($"rank {rank}: prefix caching needs a one-stage rank (stage {model.Stage}); disable it for staged ranks",
                nameof(prefixCache));
        Model = model;
        _next = next;
        Rank = rank;
        _maxPassTokens = maxPassTokens ?? (_ => int.MaxValue);
        _time = time ?? TimeProvider.System;
        if (prefixCache is { Enabled: true }) _prefixCache = new PrefixCache(model.Config, prefixCache, model.Options.ComputeDType);
        _guidance = guidance;
        _vision = vision;
    }

    /// <summary>The rank's vision tower; null when it takes no images.</summary>
    public VisionTower? Vision => _vision;

    public Llama4TextModel Model { get; }

    public int Rank { get; }

    /// <summary>Sequences holding state on this rank.</summary>
    public int SequenceCount => _sequences.Count;

    /// <summary>Bytes allocated by the sequences' KV caches.</summary>
    public long CacheBytes => _sequences.Values.Sum(s => s.Cache.AllocatedBytes);

    /// <summary>The rank's prefix cache (shared prompt prefixes restored instead of computed); null when disabled.</summary>
    public PrefixCache? PrefixCache => _prefixCache;

    /// <summary>Raised with the ids whose state a failed step dropped (a failover hook: their tokens must be re-prefilled).</summary>
    public event Action<IReadOnlyList<long>, Exception>? SequencesDropped;

    /// <summary>Runs one engine step: every sequence's new tokens, then a sample for each that asked, in step order. On a
    /// staged rank, the first stage's entry.</summary>
    public Task<RankStepResult> StepAsync(RankStep step, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(step);
        if (!Model.HoldsEmbeddings)
            throw new InvalidOperationException($"rank {Rank}: stage {Model.Stage} takes passes from the previous stage, not engine steps");
        return GuardAsync("rank.step", step, Admit(step, restarts: false), states => RunAsync(step, states, null, 0, cancellationToken));
    }

    /// <summary>
    /// A later stage's part of one forward pass (<see cref="IRankStageLink.HandOffAsync"/>): <paramref name="pass"/>'s
    /// sequences run this stage's layers from the previous stage's <paramref name="hidden"/> states <c>[T, D]</c> (not
    /// disposed here), then are handed on or, on the last stage, sampled.
    /// </summary>
    public Task<RankStepResult> PassAsync(RankStep pass, int passIndex, torch.Tensor hidden, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(pass);
        ArgumentNullException.ThrowIfNull(hidden);
        if (Model.HoldsEmbeddings)
            throw new InvalidOperationException($"rank {Rank}: the first stage takes engine steps, not hidden states");
        return GuardAsync("rank.pass", pass, Admit(pass, restarts: true), states => RunAsync(pass, states, hidden, passIndex, cancellationToken));
    }

    /// <summary>Runs the admitted step in its span (<see cref="KernelsTelemetry"/>); when it fails, drops every sequence of it
    /// (their caches are part-way through it).</summary>
    private async Task<RankStepResult> GuardAsync(string span, RankStep step, List<RankSequence> states, Func<List<RankSequence>, Task<RankStepResult>> run)
    {
        using var activity = KernelsTelemetry.Source.StartActivity(span);
        activity?.SetTag("llama4.rank", Rank);
        activity?.SetTag("llama4.stage", Model.Stage);
        activity?.SetTag("llama4.step", step.Step);
        activity?.SetTag("llama4.sequences", states.Count);
        try
        {
            return await run(states).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            activity?.SetStatus(System.Diagnostics.ActivityStatusCode.Error, e.Message);
            var dropped = new List<long>(states.Count);
            foreach (var s in states)
            {
                if (_sequences.Remove(s.Id)) dropped.Add(s.Id);
                s.Dispose();
            }

            SequencesDropped?.Invoke(dropped, e);
            throw;
        }
    }

    /// <summary>Drops the state of ended sequences, here and on the later stages; unknown ids are ignored.</summary>
    public void Release(IEnumerable<long> sequenceIds)
    {
        ArgumentNullException.ThrowIfNull(sequenceIds);
        var ids = sequenceIds as IReadOnlyList<long> ?? sequenceIds.ToList();
        foreach (long id in ids)
        {
            if (_sequences.Remove(id, out var s)) s.Dispose();
        }

        _next?.Release(ids);
    }

    /// <summary>
    /// The lease: drops every sequence no step has touched for longer than <paramref name="idle"/> — the sequences of a
    /// gateway that died, or copies left behind by a failover — and returns their ids. A live sequence is in every step of
    /// its scheduler, so a lease of minutes never touches one.
    /// </summary>
    public IReadOnlyList<long> EvictIdle(TimeSpan idle)
    {
        long now = _time.GetTimestamp();
        var evicted = _sequences.Values.Where(s => _time.GetElapsedTime(s.LastUsed, now) > idle).Select(s => s.Id).ToList();
        Release(evicted);
        return evicted;
    }

    /// <summary>Finds or creates each sequence's state; validates the whole step before any state changes. With
    /// <paramref name="restarts"/> (a later stage), a <see cref="SequenceWork.Start"/> replaces a state left behind.</summary>
    private List<RankSequence> Admit(RankStep step, bool restarts)
    {
        if (step.Sequences is null || step.Sequences.Count == 0) throw new ArgumentException("a step needs at least one sequence");
        var seen = new HashSet<long>();
        foreach (var s in step.Sequences)
        {
            if (!seen.Add(s.SequenceId)) throw new ArgumentException($"sequence {s.SequenceId} appears twice in step {step.Step}");
            if (s.Tokens.IsEmpty) throw new ArgumentException($"sequence {s.SequenceId}: a step needs at least one new token");
            if (s.Start is not null && !restarts && _sequences.ContainsKey(s.SequenceId))
                throw new ArgumentException($"sequence {s.SequenceId} is already running on rank {Rank}; Start is for its first step only");
            if (s.Start is null && !_sequences.ContainsKey(s.SequenceId))
                throw new ArgumentException($"sequence {s.SequenceId} is unknown on rank {Rank}: send Start with its first step (or re-prefill it after a failure)");
            if (s.Start is not null) s.Start.Sampling.Validate();
            if (s.Start is { Images.Count: > 0 } && _vision is null)
                throw new ArgumentException(Model.HoldsEmbeddings
                    ? $"sequence {s.SequenceId} has images but rank {Rank} has no vision tower (the checkpoint's config.json has no vision_config)"
                    : $"sequence {s.SequenceId}: images go to the first stage; stage {Model.Stage} takes hidden states");
            if (s.Start is { GeneratedTokens: < 0 } bad)
                throw new ArgumentException($"sequence {s.SequenceId}: GeneratedTokens must not be negative; got {bad.GeneratedTokens}");
        }

        var states = new List<RankSequence>(step.Sequences.Count);
        foreach (var s in step.Sequences)
        {
            if (s.Start is { } start)
            {
                var sampler = new Sampler(start.Sampling, start.EosTokenIds, start.Guidance is { } g ? Guide(g) : null);
                sampler.SkipSamples(start.GeneratedTokens);
                var cache = Model.CreateCache();
                var prefix = _prefixCache is null ? null : new SequencePrefix(_prefixCache, cache);
                var created = new RankSequence(s.SequenceId, sampler, cache, prefix, start.GeneratedTokens, start.Images, _vision?.Inputs);
                if (_sequences.Remove(s.SequenceId, out var stale)) stale.Dispose();
                _sequences.Add(s.SequenceId, created);
            }

            var state = _sequences[s.SequenceId];
            state.LastUsed = _time.GetTimestamp();
            states.Add(state);
        }

        return states;
    }

    /// <summary>The sequence's constraint, compiled (once per distinct constraint) at its first sample, where a failure
    /// drops it alone.</summary>
    private GuidanceMatcher Guide(GuidanceSpec spec) =>
        _guidance?.CreateMatcher(spec) ?? new GuidanceMatcher(() => throw new InvalidOperationException(
            $"attention rank {Rank} has no tokenizer, so it cannot enforce structured output (guided decoding)"));

    /// <summary>
    /// Forward passes over the step's tokens, packed in step order under the pass budget, then sampling — or, on a stage
    /// without the head, each pass handed on and its samples taken from the answer. A later stage runs what it is handed
    /// as one pass (pass <paramref name="firstPass"/>) from the <paramref name="hidden"/> states.
    /// </summary>
    private async Task<RankStepResult> RunAsync(RankStep step, List<RankSequence> states, torch.Tensor? hidden, int firstPass,
        CancellationToken cancellationToken)
    {
        var work = step.Sequences;
        bool anyLogits = work.Any(s => s.ReturnLogits);
        int budget = hidden is null ? Math.Max(1, _maxPassTokens(anyLogits)) : int.MaxValue;
        var samples = new SequenceSample?[work.Count];
        var failures = new List<SequenceFailure>();
        var logitRows = anyLogits ? new List<float>() : null;
        var offsets = new int[work.Count];
        var hits = Restore(work, states, offsets);
        if (_vision is not null) RankImages.Encode(states, _vision);
        int vocab = Model.Config.VocabSize;
        for (int pass = firstPass; Enumerable.Range(0, work.Count).Any(i => offsets[i] < work[i].Tokens.Length); pass++)
        {
            var (slices, owners) = Pack(work, states, offsets, budget);
            float[] rows = [];
            RankStepResult? later = null;
            using (var output = await Model.ForwardAsync(slices, hidden, new DispatchContext(step.Step, pass), cancellationToken).ConfigureAwait(false))
            {
                // Logits rows in a rented array: one step's is 128 KB to 800 KB, a large-object allocation every step otherwise.
                if (_next is null) rows = output is null ? [] : Cpu.TensorData.RentFloats(output, ArrayPool<float>.Shared, out _);
                else later = await _next.HandOffAsync(PassStep(step.Step, work, owners, offsets), pass, output!, cancellationToken).ConfigureAwait(false);
            }

            try
            {
                int row = 0;
                for (int k = 0; k < owners.Count; k++)
                {
                    var (i, n, last) = owners[k];
                    var seq = work[i];
                    states[i].Fed(seq.Tokens.Span.Slice(offsets[i], n));
                    offsets[i] += n;
                    if (later is not null) continue;
                    int produced = slices[k].Logits switch { LogitsRequest.All => n, LogitsRequest.Last => 1, _ => 0 };
                    if (seq.ReturnLogits) logitRows!.AddRange(rows.AsSpan(row * vocab, n * vocab));
                    if (seq.Sample && last) samples[i] = SampleOrDrop(states[i], rows.AsSpan((row + produced - 1) * vocab, vocab), failures);
                    row += produced;
                }
            }
            finally
            {
                if (rows.Length > 0) ArrayPool<float>.Shared.Return(rows);
            }

            if (later is not null) TakeAnswer(later, work, samples, failures, logitRows);
        }

        return new RankStepResult([.. samples.OfType<SequenceSample>()], logitRows?.ToArray(), logitRows is null ? 0 : logitRows.Count / vocab,
            failures.Count == 0 ? null : failures, hits);
    }

    /// <summary>One pass as the next stage's step: each packed sequence's slice of tokens; its start in the first pass it is
    /// in; a sample where its last slice is (read before the offsets move on).</summary>
    private static RankStep PassStep(long step, IReadOnlyList<SequenceWork> work, List<(int Index, int Count, bool Last)> owners, int[] offsets)
    {
        var pass = new SequenceWork[owners.Count];
        for (int k = 0; k < owners.Count; k++)
        {
            var (i, n, last) = owners[k];
            var seq = work[i];
            // Images stay here: this stage embedded them; the later stages take hidden states.
            var start = offsets[i] == 0 ? seq.Start : null;
            if (start is { Images: not null }) start = start with { Images = null };
            pass[k] = new SequenceWork(seq.SequenceId, seq.Tokens.Slice(offsets[i], n), start, seq.Sample && last, seq.ReturnLogits);
        }

        return new RankStep(step, pass);
    }

    /// <summary>The later stages' answer to one pass: their samples and logit rows (pass order is step order), and the
    /// sequences whose sampling failed there, dropped here too.</summary>
    private void TakeAnswer(RankStepResult later, IReadOnlyList<SequenceWork> work, SequenceSample?[] samples, List<SequenceFailure> failures,
        List<float>? logitRows)
    {
        foreach (var sample in later.Samples)
        {
            int i = IndexOf(work, sample.SequenceId);
            samples[i] = sample;
        }

        foreach (var failure in later.Failures ?? [])
        {
            failures.Add(failure);
            if (_sequences.Remove(failure.SequenceId, out var state)) state.Dispose();
        }

        if (later.Logits is { } logits) logitRows?.AddRange(logits);
    }

    private static int IndexOf(IReadOnlyList<SequenceWork> work, long sequenceId)
    {
        for (int i = 0; i < work.Count; i++)
            if (work[i].SequenceId == sequenceId) return i;
        throw new InvalidOperationException($"the next stage answered for sequence {sequenceId}, which is not in the pass");
    }

    /// <summary>
    /// Each sequence's leading tokens that the prefix cache holds are restored, not computed (<paramref name="offsets"/>
    /// start after them): all of them when the step neither samples nor returns logits, all but the last when it samples
    /// (its logits are computed), none when it returns logits (every position's are).
    /// </summary>
    private static List<PrefixCacheHit>? Restore(IReadOnlyList<SequenceWork> work, List<RankSequence> states, int[] offsets)
    {
        List<PrefixCacheHit>? hits = null;
        for (int i = 0; i < work.Count; i++)
        {
            var seq = work[i];
            if (states[i].Prefix is not { } prefix || seq.ReturnLogits) continue;
            var tokens = seq.Tokens.Span;
            int restored = prefix.Restore(states[i].PrefixKeys(tokens), seq.Sample ? tokens.Length - 1 : tokens.Length);
            if (restored == 0) continue;
            states[i].Fed(tokens[..restored]);
            offsets[i] = restored;
            (hits ??= new List<PrefixCacheHit>()).Add(new PrefixCacheHit(seq.SequenceId, restored));
        }

        return hits;
    }

    /// <summary>The sequence's sample; when its own sampling throws, drops it alone and reports it instead.</summary>
    private SequenceSample? SampleOrDrop(RankSequence state, ReadOnlySpan<float> logits, List<SequenceFailure> failures)
    {
        try
        {
            return state.Sample(logits);
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException or ArithmeticException)
        {
            failures.Add(new SequenceFailure(state.Id, e.Message));
            if (_sequences.Remove(state.Id)) state.Dispose();
            return null;
        }
    }

    /// <summary>One pass: each sequence's remaining tokens in step order until the budget is spent.</summary>
    private static (List<SequenceSlice> Slices, List<(int Index, int Count, bool Last)> Owners) Pack(
        IReadOnlyList<SequenceWork> work, List<RankSequence> states, int[] offsets, int budget)
    {
        var slices = new List<SequenceSlice>();
        var owners = new List<(int Index, int Count, bool Last)>();
        int left = budget;
        for (int i = 0; i < work.Count && left > 0; i++)
        {
            var seq = work[i];
            int remaining = seq.Tokens.Length - offsets[i];
            if (remaining == 0) continue;
            int n = Math.Min(remaining, left);
            bool last = n == remaining;
            var want = seq.ReturnLogits ? LogitsRequest.All : seq.Sample && last ? LogitsRequest.Last : LogitsRequest.None;
            var tokens = seq.Tokens.Slice(offsets[i], n).ToArray();
            states[i].Prefix?.Expect(states[i].PrefixKeys(tokens));
            slices.Add(new SequenceSlice(states[i].Cache, tokens, want) { Image = states[i].FeaturesFor(tokens) });
            owners.Add((i, n, last));
            left -= n;
        }

        return (slices, owners);
    }

    public void Dispose()
    {
        foreach (var s in _sequences.Values) s.Dispose();
        _sequences.Clear();
        _prefixCache?.Dispose();
    }
}
