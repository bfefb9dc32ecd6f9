using Llama4Cluster.Core.Config;
using Llama4Cluster.Core.Vision;
using Llama4Cluster.Kernels.Model;
using Llama4Cluster.Kernels.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace Llama4Cluster.Kernels.Vision;

/// <summary>
/// The vision path of spec §5.2, batched over tiles: patch embedding (channel-major 14×14 patches, row-major), the class
/// token appended last, positional embeddings, <c>layernorm_pre</c>, the encoder layers (LayerNorm, full attention with 2-D
/// RoPE on interleaved pairs — columns on the first half of the pairs, rows on the second, the class token unrotated —
/// and a GELU MLP), <c>layernorm_post</c>, the class token dropped, the pixel shuffle, the adapter MLP (GELU after both
/// layers) and the projector into the text model's hidden size. Its output rows replace the <c>&lt;|patch|&gt;</c>
/// embeddings of a prompt (spec §5.4). Weights are held in the compute dtype; attention scores, softmax and the
/// normalisations run in fp32.
/// </summary>
public sealed class Llama4VisionModel : IDisposable
{
    private readonly Tensor _patch;     // [H, C·p²]
    private readonly Tensor _class;     // [H]
    private readonly Tensor _position;  // [P + 1, H]
    private readonly (Tensor W, Tensor B) _pre, _post;
    private readonly Layer[] _layers;
    private readonly Tensor _adapter1;  // [Pin, H/r²]
    private readonly Tensor _adapter2;  // [Pout, Pin]
    private readonly Tensor _projector; // [D, Vout]
    private readonly Tensor? _projectorBias;
    private readonly Tensor _cos, _sin; // [P + 1, hd/2] fp32
    private readonly ScalarType _dtype;
    private readonly Device _device;

    private sealed record Layer((Tensor W, Tensor B) Norm1, Tensor Qkv, Tensor QkvBias, Tensor O, Tensor OBias, (Tensor W, Tensor B) Norm2,
        Tensor Fc1, Tensor Fc1Bias, Tensor Fc2, Tensor Fc2Bias) : IDisposable
    {
        public void Dispose()
        {
            foreach (var t in new[] { Norm1.W, Norm1.B, Qkv, QkvBias, O, OBias, Norm2.W, Norm2.B, Fc1, Fc1Bias, Fc2, Fc2Bias }) t.Dispose();
        }
    }

    private Llama4VisionModel(Llama4VisionConfig config, int textHidden, ScalarType dtype, Device device, Tensor patch, Tensor cls, Tensor position,
        (Tensor, Tensor) pre, (Tensor, Tensor) post, Layer[] layers, Tensor adapter1, Tensor adapter2, Tensor projector, Tensor? projectorBias)
    {
        Config = config;
        TextHiddenSize = textHidden;
        _dtype = dtype;
        _device = device;
        _patch = patch;
        _class = cls;
        _position = position;
        _pre = pre;
        _post = post;
        _layers = layers;
        _adapter1 = adapter1;
        _adapter2 = adapter2;
        _projector = projector;
        _projectorBias = projectorBias;
        (_cos, _sin) = RopeTable(config, device);
    }

    public Llama4VisionConfig Config { get; }

    /// <summary>Width of each output row: the text model's hidden size.</summary>
    public int TextHiddenSize { get; }

    /// <summary>Bytes of weights held.</summary>
    public long WeightBytes => Config.TotalParameters(TextHiddenSize) * (_dtype == ScalarType.Float32 ? 4 : 2);

    /// <summary>The name prefix of the vision tensors: none (<c>vision_model.*</c>, spec §5.3) or <c>model.</c> (the layout of
    /// newer transformers releases), whichever the checkpoint holds.</summary>
    public static string Prefix(IWeightSource source) => source.Contains("model.vision_model.class_embedding") ? "model." : "";

    /// <summary>Loads the vision tower and projector from <paramref name="source"/> (names as spec §5.3) in the options' dtype
    /// and device; the projector maps into <c>source.Config.HiddenSize</c>. A missing or mis-shaped tensor fails with the
    /// source's error (the checkpoint reader names the file and tensor).</summary>
    public static Llama4VisionModel Load(IWeightSource source, Llama4VisionConfig config, ModelOptions options)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(config);
        config.Validate();
        var dt = options.ComputeDType;
        var dev = options.Device;
        string root = Prefix(source);
        string v = root + "vision_model.";
        long h = config.HiddenSize, f = config.IntermediateSize, d = source.Config.HiddenSize;
        var loaded = new List<Tensor>();
        Tensor L(string name, params long[] shape)
        {
            var t = source.Load(name, shape, dt, dev).DetachFromDisposeScope();
            loaded.Add(t);
            return t;
        }

        Tensor Rows(params (string Name, long[] Shape)[] parts)
        {
            var t = source.LoadRows(parts, dt, dev).DetachFromDisposeScope();
            loaded.Add(t);
            return t;
        }

        try
        {
            var patch = L(v + "patch_embedding.linear.weight", h, config.PatchValues);
            var cls = L(v + "class_embedding", h);
            var position = L(v + "positional_embedding_vlm", config.PatchesPerTile + 1, h);
            var pre = (L(v + "layernorm_pre.weight", h), L(v + "layernorm_pre.bias", h));
            var post = (L(v + "layernorm_post.weight", h), L(v + "layernorm_post.bias", h));
            var layers = new Layer[config.NumHiddenLayers];
            for (int j = 0; j < layers.Length; j++)
            {
                string p = $"{v}model.layers.{j}.";
                string a = p + "self_attn.";
                var qkv = Rows((a + "q_proj.weight", [h, h]), (a + "k_proj.weight", [h, h]), (a + "v_proj.weight", [h, h]));
                var qkvBias = torch.cat([L(a + "q_proj.bias", h), L(a + "k_proj.bias", h), L(a + "v_proj.bias", h)], 0).DetachFromDisposeScope();
                loaded.Add(qkvBias);
                layers[j] = new Layer((L(p + "input_layernorm.weight", h), L(p + "input_layernorm.bias", h)), qkv, qkvBias,
                    L(a + "o_proj.weight", h, h), L(a + "o_proj.bias", h),
                    (L(p + "post_attention_layernorm.weight", h), L(p + "post_attention_layernorm.bias", h)),
                    L(p + "mlp.fc1.weight", f, h), L(p + "mlp.fc1.bias", f), L(p + "mlp.fc2.weight", h, f), L(p + "mlp.fc2.bias", h));
            }

            var adapter1 = L(v + "vision_adapter.mlp.fc1.weight", config.ProjectorInputDim, config.ShuffledWidth);
            var adapter2 = L(v + "vision_adapter.mlp.fc2.weight", config.ProjectorOutputDim, config.ProjectorInputDim);
            string m = root + "multi_modal_projector.linear_1.";
            var projector = L(m + "weight", d, config.VisionOutputDim);
            var projectorBias = config.MultiModalProjectorBias ? L(m + "bias", d) : null;
            return new Llama4VisionModel(config, (int)d, dt, dev, patch, cls, position, pre, post, layers, adapter1, adapter2, projector, projectorBias);
        }
        catch
        {
            foreach (var t in loaded) t.Dispose();
            throw;
        }
    }

    /// <summary>Features of every tile of <paramref name="images"/> in order (each image's canvas tiles, then its global tile):
    /// <c>[Σ TileCount · TokensPerTile, text hidden]</c> in the compute dtype on the model's device. The caller owns it.</summary>
    public Tensor Encode(IReadOnlyList<ImageTiles> images)
    {
        ArgumentNullException.ThrowIfNull(images);
        if (images.Count == 0) throw new ArgumentException("no images to encode", nameof(images));
        int s = Config.ImageSize;
        foreach (var image in images)
            if (image.TileSize != s)
                throw new ArgumentException($"an image was cut into {image.TileSize}-pixel tiles; this vision tower takes {s}-pixel tiles", nameof(images));
        int tiles = images.Sum(i => i.TileCount);
        var pixels = new float[(long)tiles * 3 * s * s];
        long at = 0;
        foreach (var image in images)
        {
            image.Pixels.CopyTo(pixels, at);
            at += image.Pixels.LongLength;
        }

        using var scope = NewDisposeScope();
        var input = torch.tensor(pixels, [tiles, 3, s, s], ScalarType.Float32);
        return Encode(input).MoveToOuterDisposeScope();
    }

    /// <summary>Features of <paramref name="tiles"/> <c>[N, 3, S, S]</c> (normalised pixels): <c>[N · TokensPerTile, text
    /// hidden]</c> in the compute dtype. The caller owns the result; the input is not disposed.</summary>
    public Tensor Encode(Tensor tiles)
    {
        var c = Config;
        int s = c.ImageSize, p = c.PatchSize, g = c.PatchesPerSide;
        if (tiles.ndim != 4 || tiles.shape[1] != c.NumChannels || tiles.shape[2] != s || tiles.shape[3] != s)
            throw new ArgumentException($"tiles must be [N, {c.NumChannels}, {s}, {s}]; got [{string.Join(", ", tiles.shape)}]", nameof(tiles));
        long n = tiles.shape[0];
        long h = c.HiddenSize, heads = c.NumAttentionHeads, hd = c.HeadDim, tokens = c.PatchesPerTile + 1;
        using var scope = NewDisposeScope();
        // Patches row-major, each flattened channel-major (c·p² + i·p + j: torch Unfold's order).
        var x = tiles.to(_dtype, _device)
            .reshape(n, c.NumChannels, g, p, g, p).permute(0, 2, 4, 1, 3, 5).reshape(n, (long)g * g, c.PatchValues);
        x = nn.functional.linear(x, _patch);
        x = torch.cat([x, _class.reshape(1, 1, h).expand(n, 1, h)], 1).AddInPlace(_position); // class token last, then positions
        x = LayerNorm(x, _pre);
        foreach (var layer in _layers)
        {
            var y = LayerNorm(x, layer.Norm1);
            var qkv = nn.functional.linear(y, layer.Qkv, layer.QkvBias).to(ScalarType.Float32).reshape(n, tokens, 3, heads, hd);
            var q = Rotate(qkv.select(2, 0)).transpose(1, 2);
            var k = Rotate(qkv.select(2, 1)).transpose(1, 2);
            var v = qkv.select(2, 2).transpose(1, 2);
            var scores = torch.matmul(q, k.transpose(-2, -1)).MulInPlace(1.0 / Math.Sqrt(hd)); // full attention: no mask
            var attention = torch.matmul(scores.softmax(-1), v).transpose(1, 2).reshape(n, tokens, h).to(_dtype);
            x = x.Add(nn.functional.linear(attention, layer.O, layer.OBias));
            y = LayerNorm(x, layer.Norm2);
            y = nn.functional.linear(nn.functional.gelu(nn.functional.linear(y, layer.Fc1, layer.Fc1Bias)), layer.Fc2, layer.Fc2Bias);
            x = x.Add(y);
        }

        x = LayerNorm(x, _post).narrow(1, 0, c.PatchesPerTile); // the class token (last) dropped
        x = PixelShuffle(x, g, (int)Math.Round(1 / c.PixelShuffleRatio), h);
        x = nn.functional.gelu(nn.functional.linear(x, _adapter1));
        x = nn.functional.gelu(nn.functional.linear(x, _adapter2));
        x = nn.functional.linear(x, _projector, _projectorBias);
        return x.reshape(n * c.TokensPerTile, TextHiddenSize).contiguous().MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Spec §5.2 step 6 for a block of <paramref name="k"/> × <paramref name="k"/> patches (k = 1 / ratio): output token
    /// <c>a · (g/k) + b</c> concatenates patches <c>(k·a + dr, k·b + dc)</c> in (dr, dc) row-major order, so its channel
    /// <c>(dr · k + dc) · H + c</c> holds channel c of patch (k·a + dr, k·b + dc).
    /// </summary>
    internal static Tensor PixelShuffle(Tensor x, int side, int k, long hidden)
    {
        long n = x.shape[0];
        int outSide = side / k;
        return x.reshape(n, outSide, k, outSide, k, hidden).permute(0, 1, 3, 2, 4, 5).reshape(n, (long)outSide * outSide, k * k * hidden);
    }

    /// <summary>LayerNorm with weight and bias, in fp32, back in the compute dtype.</summary>
    private Tensor LayerNorm(Tensor x, (Tensor W, Tensor B) norm) =>
        nn.functional.layer_norm(x.to(ScalarType.Float32), [x.shape[^1]], norm.W.to(ScalarType.Float32), norm.B.to(ScalarType.Float32), Config.NormEps)
            .to(_dtype);

    /// <summary>2-D RoPE on interleaved pairs of <c>[N, T, heads, hd]</c> (fp32).</summary>
    private Tensor Rotate(Tensor x)
    {
        var shape = x.shape;
        var pairs = x.reshape(shape[0], shape[1], shape[2], shape[3] / 2, 2);
        var even = pairs.select(-1, 0);
        var odd = pairs.select(-1, 1);
        var cos = _cos.reshape(1, shape[1], 1, shape[3] / 2);
        var sin = _sin.reshape(1, shape[1], 1, shape[3] / 2);
        return torch.stack([even.mul(cos).sub(odd.mul(sin)), even.mul(sin).Add(odd.mul(cos))], -1).reshape(shape);
    }

    /// <summary>
    /// Angles per token and pair, float64 then fp32: with <c>f_k = θ^(−2k / (hd/2))</c> for k &lt; hd/4, the patch at
    /// (row, col) rotates pair k by <c>(col + 1) · f_k</c> and pair hd/4 + k by <c>(row + 1) · f_k</c>; the class token (the
    /// last row) is not rotated.
    /// </summary>
    private static (Tensor Cos, Tensor Sin) RopeTable(Llama4VisionConfig c, Device device)
    {
        int g = c.PatchesPerSide, pairs = c.HeadDim / 2, quarter = c.HeadDim / 4;
        int tokens = g * g + 1;
        var cos = new float[tokens * pairs];
        var sin = new float[tokens * pairs];
        for (int t = 0; t < tokens; t++)
        {
            for (int k = 0; k < pairs; k++)
            {
                double angle = 0;
                if (t < g * g)
                {
                    int row = t / g, col = t % g;
                    int kk = k % quarter;
                    double freq = Math.Pow(c.RopeTheta, -2.0 * kk / pairs);
                    angle = (k < quarter ? col + 1 : row + 1) * freq;
                }

                cos[t * pairs + k] = (float)Math.Cos(angle);
                sin[t * pairs + k] = (float)Math.Sin(angle);
            }
        }

        return (torch.tensor(cos, [tokens, pairs]).to(device).DetachFromDisposeScope(), torch.tensor(sin, [tokens, pairs]).to(device).DetachFromDisposeScope());
    }

    public void Dispose()
    {
        foreach (var t in new[] { _patch, _class, _position, _pre.W, _pre.B, _post.W, _post.B, _adapter1, _adapter2, _projector, _cos, _sin }) t.Dispose();
        _projectorBias?.Dispose();
        foreach (var l in _layers) l.Dispose();
    }
}
