using Llama4Cluster.Core.Config;
using Llama4Cluster.Kernels.Model.Moe;
using TorchSharp;
using static TorchSharp.torch;

namespace Llama4Cluster.Kernels.Model;

/// <summary>
/// The Llama 4 text model (spec §2): embedding, decoder layers, final norm, lm_head — or one pipeline stage of it
/// (<see cref="ModelOptions.Layers"/>: a contiguous layer range; the first stage embeds, the last holds the head). Runs a
/// ragged batch of sequence slices per step against their KV caches. Routed experts run through the
/// <see cref="IMoeExecutor"/> chosen at load: in process (fused or grouped), or dispatched to the cluster's shards.
/// </summary>
public sealed class Llama4TextModel : IDisposable
{
    private readonly Tensor? _embed;   // [V, D]; first stage only
    private readonly Tensor? _norm;    // [D]; last stage only
    private readonly Tensor? _lmHead;  // [V, D]; last stage only
    private readonly DecoderLayer[] _layers;
    private readonly RotaryEmbedding _rope;

    private Llama4TextModel(Llama4TextConfig config, ModelOptions options, LayerRange stage, Tensor? embed, DecoderLayer[] layers, Tensor? norm,
        Tensor? lmHead, IMoeExecutor moe)
    {
        Config = config;
        Options = options;
        Stage = stage;
        _embed = embed;
        _layers = layers;
        _norm = norm;
        _lmHead = lmHead;
        MoeExecutor = moe;
        Kernels = KernelPolicy.For(options);
        _rope = new RotaryEmbedding(config.HeadDim, config.RopeTheta, config.RopeScaling, options.Device);
    }

    public Llama4TextConfig Config { get; }
    public ModelOptions Options { get; }
    /// <summary>Which kernels the linear layers and attention run on (chosen at load).</summary>
    public KernelPolicy Kernels { get; }

    /// <summary>How this model's MoE layers run their experts (chosen at load).</summary>
    public IMoeExecutor MoeExecutor { get; }
    /// <summary>The stage's decoder layers (every layer on a one-stage model).</summary>
    public IReadOnlyList<DecoderLayer> Layers => _layers;
    public RotaryEmbedding Rope => _rope;

    /// <summary>The layers this model runs: every layer unless it is one stage of a rank.</summary>
    public LayerRange Stage { get; }

    /// <summary>Whether this model runs every layer, embeddings and head (a one-stage rank).</summary>
    public bool IsWhole => Stage.Count == Config.NumHiddenLayers;

    /// <summary>Whether this model embeds token ids (the first stage); otherwise it takes the previous stage's hidden states.</summary>
    public bool HoldsEmbeddings => _embed is not null;

    /// <summary>Whether this model holds the final norm and lm_head (the last stage); otherwise it returns hidden states.</summary>
    public bool HoldsHead => _lmHead is not null;

    /// <summary>
    /// Loads every non-expert weight of the stage (<see cref="ModelOptions.Layers"/>; all layers when null) from
    /// <paramref name="source"/>, and nothing outside it (nor the shared experts with <see cref="ModelOptions.RemoteSharedExperts"/>). Routed experts: when
    /// <paramref name="dispatcher"/> is null, all of them are loaded into a local dispatcher;
    /// otherwise the given dispatcher reaches them (the cluster) and none are loaded here.
    /// </summary>
    public static Llama4TextModel Load(IWeightSource source, ModelOptions options, IExpertDispatcher? dispatcher = null, IProgress<LoadProgress>? progress = null)
    {
        var c = source.Config;
        var dt = options.ComputeDType;
        var dev = options.Device;
        var kernels = KernelPolicy.For(options);
        long d = c.HiddenSize, hd = c.HeadDim;
        Tensor L(string name, params long[] shape) => source.Load(name, shape, dt, dev).DetachFromDisposeScope();
        Tensor Rows(params (string Name, long[] Shape)[] parts) => source.LoadRows(parts, dt, dev).DetachFromDisposeScope();

        if (options.RemoteSharedExperts && dispatcher is not ISharedExpertDispatcher)
            throw new ArgumentException("ModelOptions.RemoteSharedExperts needs a dispatcher that runs the shared experts (ISharedExpertDispatcher)", nameof(dispatcher));
        var stage = options.Layers ?? LayerRange.All(c);
        stage.Validate(c);
        LocalExpertDispatcher? local = dispatcher is null ? new LocalExpertDispatcher() : null;
        var layers = new DecoderLayer[stage.Count];
        int totalSteps = stage.Count + 2;
        progress?.Report(new LoadProgress(0, totalSteps, "embeddings"));
        var embed = stage.HoldsEmbeddings ? L("model.embed_tokens.weight", c.VocabSize, d) : null;
        for (int i = stage.First; i < stage.End; i++)
        {
            string p = $"model.layers.{i}.";
            var qkv = Rows(
                (p + "self_attn.q_proj.weight", [c.NumAttentionHeads * hd, d]),
                (p + "self_attn.k_proj.weight", [c.NumKeyValueHeads * hd, d]),
                (p + "self_attn.v_proj.weight", [c.NumKeyValueHeads * hd, d]));
            var attention = new AttentionLayer(c, i, qkv, L(p + "self_attn.o_proj.weight", d, c.NumAttentionHeads * hd), kernels);
            var inNorm = L(p + "input_layernorm.weight", d);
            var postNorm = L(p + "post_attention_layernorm.weight", d);
            SwiGluMlp? dense = null;
            MoeBlock? moe = null;
            string f = p + "feed_forward.";
            if (c.IsMoeLayer(i))
            {
                var router = new Router(L(f + "router.weight", c.NumLocalExperts, d), c.NumExpertsPerToken, kernels);
                var shared = options.RemoteSharedExperts ? null : SharedExpertWeights.Load(source, i, dt, dev, kernels);
                moe = new MoeBlock(router, shared);
                if (local is not null)
                {
                    var all = Enumerable.Range(0, c.NumLocalExperts).ToArray();
                    var (gateUp, down) = source.LoadExperts(i, all, dt, dev);
                    local.Add(i, new GroupedExperts(all, gateUp.DetachFromDisposeScope(), down.DetachFromDisposeScope(), kernels));
                }
            }
            else
            {
                long fm = c.IntermediateSizeMlp;
                dense = new SwiGluMlp(Rows((f + "gate_proj.weight", [fm, d]), (f + "up_proj.weight", [fm, d])), L(f + "down_proj.weight", d, fm), kernels);
            }
            layers[i - stage.First] = new DecoderLayer(i, inNorm, attention, postNorm, dense, moe, c.RmsNormEps);
            progress?.Report(new LoadProgress(i - stage.First + 1, totalSteps, $"layer {i}"));
        }
        bool head = stage.HoldsHead(c);
        var norm = head ? L("model.norm.weight", d) : null;
        var lmHead = head ? L("lm_head.weight", c.VocabSize, d) : null;
        progress?.Report(new LoadProgress(totalSteps, totalSteps, "done"));
        var moeLayers = layers.Where(l => l.Moe is not null).Select(l => (l.Index, l.Moe!)).ToArray();
        return new Llama4TextModel(c, options, stage, embed, layers, norm, lmHead, MoeExecutors.Choose(dispatcher, local, moeLayers, options));
    }

    /// <summary>
    /// Weights stacked by rows into one new tensor (q, k, v; gate, up) so that one GEMM reads them; the parts are not
    /// disposed. On the CPU the parts (usually views of the mapped checkpoint) are copied straight into a buffer advised to
    /// use huge pages (<see cref="Checkpoints.WeightBuffers"/>).
    /// </summary>
    internal static Tensor StackRows(Tensor[] parts)
    {
        if (parts[0].device_type != DeviceType.CPU) return torch.cat(parts, 0);
        using var scope = NewDisposeScope();
        var fused = Checkpoints.WeightBuffers.Empty([parts.Sum(p => p.shape[0]), .. parts[0].shape[1..]], parts[0].dtype);
        long row = 0;
        foreach (var p in parts)
        {
            fused.narrow(0, row, p.shape[0]).copy_(p);
            row += p.shape[0];
        }
        return fused.MoveToOuterDisposeScope();
    }

    /// <summary>A new, empty KV cache for one sequence's layers on this stage, in this model's dtype and device.</summary>
    public KvCache CreateCache() => new(Config, Options.ComputeDType, Options.Device, Stage);

    /// <summary>
    /// Runs one step over <paramref name="slices"/> (each sequence's new tokens appended to its cache)
    /// and returns fp32 logits <c>[R, V]</c> for the requested rows, in slice order (all rows of an
    /// <see cref="LogitsRequest.All"/> slice, the last row of a <see cref="LogitsRequest.Last"/> slice), or
    /// null when no slice asks for logits. The caller owns the result. Advances every cache.
    /// </summary>
    public ValueTask<Tensor?> ForwardAsync(IReadOnlyList<SequenceSlice> slices, CancellationToken cancellationToken = default) =>
        ForwardAsync(slices, default, cancellationToken);

    /// <summary>One step as above; <paramref name="dispatch"/> names the step and pass on every expert dispatch.</summary>
    public ValueTask<Tensor?> ForwardAsync(IReadOnlyList<SequenceSlice> slices, DispatchContext dispatch, CancellationToken cancellationToken = default) =>
        ForwardAsync(slices, null, dispatch, cancellationToken);

    /// <summary>
    /// One step of this stage: the first stage embeds the slices' tokens (<paramref name="hidden"/> null), a later stage
    /// starts from the previous stage's <paramref name="hidden"/> states <c>[T, D]</c> (the slices' tokens in order; not
    /// disposed here). Returns the logits as <see cref="ForwardAsync(IReadOnlyList{SequenceSlice}, CancellationToken)"/>
    /// when this stage holds the head, otherwise the hidden states <c>[T, D]</c> the next stage starts from. The caller
    /// owns the result. Advances every cache.
    /// </summary>
    public async ValueTask<Tensor?> ForwardAsync(IReadOnlyList<SequenceSlice> slices, Tensor? hidden, DispatchContext dispatch,
        CancellationToken cancellationToken = default)
    {
        if (slices.Count == 0) throw new ArgumentException("a step needs at least one sequence", nameof(slices));
        if ((hidden is null) != HoldsEmbeddings)
            throw new ArgumentException(HoldsEmbeddings ? "the first stage embeds token ids; it takes no hidden states"
                : $"stage {Stage} starts from the previous stage's hidden states; none were given", nameof(hidden));
        foreach (var s in slices)
        {
            if (s.Tokens.Count == 0) throw new ArgumentException("every sequence in a step needs at least one new token", nameof(slices));
            foreach (int tok in s.Tokens)
                if ((uint)tok >= (uint)Config.VocabSize)
                    throw new ArgumentOutOfRangeException(nameof(slices), $"token id {tok} is outside the vocabulary (0..{Config.VocabSize - 1})");
        }

        using var step = new StepContext(slices, _rope, Options.Device, dispatch);
        Tensor x = hidden is null ? Embed(slices) : Arrive(hidden, step.TokenCount);
        bool handedOn = false;
        try
        {
            foreach (var layer in _layers)
            {
                var next = await layer.ForwardAsync(x, step, MoeExecutor, cancellationToken).ConfigureAwait(false);
                x.Dispose();
                x = next;
            }
            foreach (var s in slices) s.Cache.Advance(s.Tokens.Count);
            handedOn = !HoldsHead; // the next stage's input
            return handedOn ? x : Head(x, slices);
        }
        finally
        {
            if (!handedOn) x.Dispose();
        }
    }

    /// <summary>The previous stage's hidden states as this stage's own tensor (on its device, in its dtype).</summary>
    private Tensor Arrive(Tensor hidden, int tokens)
    {
        if (hidden.ndim != 2 || hidden.shape[0] != tokens || hidden.shape[1] != Config.HiddenSize)
            throw new ArgumentException($"stage {Stage}: hidden states must be [{tokens}, {Config.HiddenSize}]; got [{string.Join(", ", hidden.shape)}]", nameof(hidden));
        using var scope = NewDisposeScope();
        return hidden.to(Options.ComputeDType, Options.Device).alias().DetachFromDisposeScope();
    }

    /// <summary>Synchronous convenience for callers whose dispatcher completes synchronously.</summary>
    public Tensor? Forward(IReadOnlyList<SequenceSlice> slices) => ForwardAsync(slices).AsTask().GetAwaiter().GetResult();

    private Tensor Embed(IReadOnlyList<SequenceSlice> slices)
    {
        using var scope = NewDisposeScope();
        var ids = slices.SelectMany(s => s.Tokens).Select(t => (long)t).ToArray();
        var index = torch.tensor(ids, dtype: ScalarType.Int64, device: Options.Device);
        var x = _embed!.index_select(0, index);
        // Image features take the places of their <|patch|> tokens (spec §5.4); other image tokens keep their embeddings.
        long row = 0;
        foreach (var s in slices)
        {
            if (s.Image is { } image)
            {
                if (image.Rows.ndim != 2 || image.Rows.shape[0] != image.Offsets.Length || image.Rows.shape[1] != Config.HiddenSize)
                    throw new ArgumentException($"image features must be [{image.Offsets.Length}, {Config.HiddenSize}]; got [{string.Join(", ", image.Rows.shape)}]",
                        nameof(slices));
                var at = torch.tensor(image.Offsets.Select(o => row + o).ToArray(), dtype: ScalarType.Int64, device: Options.Device);
                x.index_copy_(0, at, image.Rows.to(x.dtype, x.device));
            }

            row += s.Tokens.Count;
        }

        return x.DetachFromDisposeScope();
    }

    private Tensor? Head(Tensor x, IReadOnlyList<SequenceSlice> slices)
    {
        using var scope = NewDisposeScope();
        var rows = new List<long>();
        long row = 0;
        foreach (var s in slices)
        {
            int n = s.Tokens.Count;
            if (s.Logits == LogitsRequest.All)
                for (int j = 0; j < n; j++) rows.Add(row + j);
            else if (s.Logits == LogitsRequest.Last)
                rows.Add(row + n - 1);
            row += n;
        }
        if (rows.Count == 0) return null;
        var selected = rows.Count == x.shape[0] ? x : x.index_select(0, torch.tensor(rows.ToArray(), dtype: ScalarType.Int64, device: x.device));
        var normed = RmsNorm.Apply(selected, _norm!, Config.RmsNormEps);
        return Kernels.Linear(normed, _lmHead!).to_type(ScalarType.Float32).DetachFromDisposeScope();
    }

    public void Dispose()
    {
        _embed?.Dispose();
        _norm?.Dispose();
        _lmHead?.Dispose();
        foreach (var l in _layers) l.Dispose();
        _rope.Dispose();
        MoeExecutor.Dispose();
    }
}

/// <summary>Load progress: <paramref name="Done"/> of <paramref name="Total"/> steps.</summary>
public readonly record struct LoadProgress(int Done, int Total, string Stage);
