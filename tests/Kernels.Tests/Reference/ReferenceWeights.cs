using Llama4Cluster.Core.Config;
using Llama4Cluster.Kernels.Model;
using TorchSharp;

namespace Llama4Cluster.Kernels.Tests.Reference;

/// <summary>
/// Random weights for a config in the exact Hugging Face layout (spec §3.1: fused
/// <c>experts.gate_up_proj [E, D, 2F]</c> and <c>experts.down_proj [E, F, D]</c>, used untransposed),
/// held as float64 arrays. Serves them to the model as an <see cref="IWeightSource"/> (converting the
/// fused experts to nn.Linear orientation as the checkpoint loader does) and to
/// <see cref="ReferenceModel"/> as they are. Statistics per spec §6.
/// </summary>
public sealed class ReferenceWeights : IWeightSource
{
    private readonly Dictionary<string, (double[] Data, long[] Shape)> _tensors = new();

    public ReferenceWeights(Llama4TextConfig config, int seed = 1234)
    {
        Config = config;
        var rng = new Random(seed);
        long d = config.HiddenSize, hd = config.HeadDim;
        Add(rng, "model.embed_tokens.weight", 1.0, config.VocabSize, d);
        for (int i = 0; i < config.NumHiddenLayers; i++)
        {
            string p = $"model.layers.{i}.";
            AddNorm(rng, p + "input_layernorm.weight", d);
            AddNorm(rng, p + "post_attention_layernorm.weight", d);
            Add(rng, p + "self_attn.q_proj.weight", 1 / Math.Sqrt(d), config.NumAttentionHeads * hd, d);
            Add(rng, p + "self_attn.k_proj.weight", 1 / Math.Sqrt(d), config.NumKeyValueHeads * hd, d);
            Add(rng, p + "self_attn.v_proj.weight", 1 / Math.Sqrt(d), config.NumKeyValueHeads * hd, d);
            Add(rng, p + "self_attn.o_proj.weight", 1 / Math.Sqrt(config.NumAttentionHeads * hd), d, config.NumAttentionHeads * hd);
            string f = p + "feed_forward.";
            if (config.IsMoeLayer(i))
            {
                long e = config.NumLocalExperts, ff = config.IntermediateSize;
                Add(rng, f + "router.weight", 1 / Math.Sqrt(d), e, d);
                Add(rng, f + "experts.gate_up_proj", 1 / Math.Sqrt(d), e, d, 2 * ff);
                Add(rng, f + "experts.down_proj", 1 / Math.Sqrt(ff), e, ff, d);
                Add(rng, f + "shared_expert.gate_proj.weight", 1 / Math.Sqrt(d), ff, d);
                Add(rng, f + "shared_expert.up_proj.weight", 1 / Math.Sqrt(d), ff, d);
                Add(rng, f + "shared_expert.down_proj.weight", 1 / Math.Sqrt(ff), d, ff);
            }
            else
            {
                long fm = config.IntermediateSizeMlp;
                Add(rng, f + "gate_proj.weight", 1 / Math.Sqrt(d), fm, d);
                Add(rng, f + "up_proj.weight", 1 / Math.Sqrt(d), fm, d);
                Add(rng, f + "down_proj.weight", 1 / Math.Sqrt(fm), d, fm);
            }
        }
        AddNorm(rng, "model.norm.weight", d);
        Add(rng, "lm_head.weight", 1 / Math.Sqrt(d), config.VocabSize, d);
    }

    /// <summary>Every tensor of a checkpoint on disk, as float64 (fused expert layout required).</summary>
    public ReferenceWeights(Kernels.Checkpoints.CheckpointReader reader)
    {
        Config = reader.Config;
        foreach (var name in reader.TensorNames)
        {
            using var t = reader.Load(name, ShapeOf(reader, name), torch.ScalarType.Float64, torch.CPU);
            _tensors[name] = (t.data<double>().ToArray(), t.shape);
        }
    }

    private static long[] ShapeOf(Kernels.Checkpoints.CheckpointReader reader, string name) =>
        reader.Files.SelectMany(f => f.Tensors.Values).First(t => Kernels.Checkpoints.CheckpointNames.ToLogical(t.Name) == name).Shape;

    public Llama4TextConfig Config { get; }

    public IReadOnlyCollection<string> Names => _tensors.Keys;

    public double[] Get(string name) => _tensors[name].Data;

    public long[] Shape(string name) => _tensors[name].Shape;

    /// <summary>The same weights under another config (e.g. top-2 instead of top-1).</summary>
    public ReferenceWeights WithConfig(Llama4TextConfig config)
    {
        var copy = (ReferenceWeights)MemberwiseClone();
        typeof(ReferenceWeights).GetProperty(nameof(Config))!.SetValue(copy, config);
        return copy;
    }

    public torch.Tensor Load(string name, long[] shape, torch.ScalarType dtype, torch.Device device)
    {
        var (data, s) = _tensors[name];
        Assert.Equal(shape, s);
        return torch.tensor(data, shape, dtype: torch.ScalarType.Float64).to(dtype, device);
    }

    public (torch.Tensor GateUp, torch.Tensor Down) LoadExperts(int layer, IReadOnlyList<int> experts, torch.ScalarType dtype, torch.Device device)
    {
        using var scope = torch.NewDisposeScope();
        var gateUp = Load($"model.layers.{layer}.feed_forward.experts.gate_up_proj", Shape($"model.layers.{layer}.feed_forward.experts.gate_up_proj"), dtype, device);
        var down = Load($"model.layers.{layer}.feed_forward.experts.down_proj", Shape($"model.layers.{layer}.feed_forward.experts.down_proj"), dtype, device);
        var index = torch.tensor(experts.Select(e => (long)e).ToArray(), dtype: torch.ScalarType.Int64, device: device);
        // HF fused [E, D, 2F] / [E, F, D] -> nn.Linear [n, 2F, D] / [n, D, F].
        var gu = gateUp.index_select(0, index).transpose(1, 2).contiguous();
        var dn = down.index_select(0, index).transpose(1, 2).contiguous();
        return (gu.MoveToOuterDisposeScope(), dn.MoveToOuterDisposeScope());
    }

    private void Add(Random rng, string name, double std, params long[] shape)
    {
        long n = shape.Aggregate(1L, (a, b) => a * b);
        var data = new double[n];
        for (long i = 0; i < n; i++) data[i] = std * Normal(rng);
        _tensors[name] = (data, shape);
    }

    private void AddNorm(Random rng, string name, long d)
    {
        var data = new double[d];
        for (long i = 0; i < d; i++) data[i] = 1 + 0.1 * Normal(rng);
        _tensors[name] = (data, [d]);
    }

    private static double Normal(Random rng)
    {
        double u1 = 1.0 - rng.NextDouble(), u2 = rng.NextDouble();
        return Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2);
    }
}
