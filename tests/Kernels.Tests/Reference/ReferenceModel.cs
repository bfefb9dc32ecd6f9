using Llama4Cluster.Core.Config;

namespace Llama4Cluster.Kernels.Tests.Reference;

/// <summary>
/// An independent float64 oracle: the spec's formulas written as plain loops, token by token,
/// with a full recompute (no cache), reading the weights in the Hugging Face layout (fused experts
/// used untransposed). Shares no code with src/Kernels' math.
/// </summary>
public sealed class ReferenceModel
{
    private readonly ReferenceWeights _w;
    private readonly Llama4TextConfig _c;

    public ReferenceModel(ReferenceWeights weights)
    {
        _w = weights;
        _c = weights.Config;
    }

    /// <summary>Logits <c>[T][V]</c> for every position of <paramref name="tokens"/> (positions 0…T−1).</summary>
    public double[][] Logits(IReadOnlyList<int> tokens) => Logits(tokens, null, -1);

    /// <summary>As above, with the embeddings of the <paramref name="patchId"/> tokens replaced by
    /// <paramref name="imageFeatures"/>, in order (spec §5.4).</summary>
    public double[][] Logits(IReadOnlyList<int> tokens, IReadOnlyList<double[]>? imageFeatures, int patchId)
    {
        int t = tokens.Count, d = _c.HiddenSize, v = _c.VocabSize;
        var embed = _w.Get("model.embed_tokens.weight");
        var x = new double[t][];
        int feature = 0;
        for (int i = 0; i < t; i++)
            x[i] = imageFeatures is not null && tokens[i] == patchId ? (double[])imageFeatures[feature++].Clone() : embed.AsSpan(tokens[i] * d, d).ToArray();
        if (imageFeatures is not null && feature != imageFeatures.Count)
            throw new ArgumentException($"{feature} patch tokens for {imageFeatures.Count} feature rows");

        for (int layer = 0; layer < _c.NumHiddenLayers; layer++)
        {
            string p = $"model.layers.{layer}.";
            var normed = x.Select(r => RmsNorm(r, _w.Get(p + "input_layernorm.weight"))).ToArray();
            var attn = Attention(layer, normed);
            for (int i = 0; i < t; i++) x[i] = Add(x[i], attn[i]);
            for (int i = 0; i < t; i++)
            {
                var h = RmsNorm(x[i], _w.Get(p + "post_attention_layernorm.weight"));
                var ffn = _c.IsMoeLayer(layer) ? Moe(layer, h) : Mlp(h, p + "feed_forward.");
                x[i] = Add(x[i], ffn);
            }
        }
        var head = _w.Get("lm_head.weight");
        return x.Select(r => MatVec(head, v, d, RmsNorm(r, _w.Get("model.norm.weight")))).ToArray();
    }

    /// <summary>Spec §2.4 inverse frequencies in float64, llama3 scaling with explicit branches.</summary>
    public static double[] InverseFrequencies(int hd, double theta, RopeScaling? s)
    {
        var inv = new double[hd / 2];
        for (int i = 0; i < inv.Length; i++)
        {
            inv[i] = Math.Pow(theta, -2.0 * i / hd);
            if (s is null) continue;
            double wavelen = 2 * Math.PI / inv[i];
            double l0 = s.OriginalMaxPositionEmbeddings;
            if (wavelen < l0 / s.HighFreqFactor) continue;
            if (wavelen > l0 / s.LowFreqFactor) { inv[i] /= s.Factor; continue; }
            double sigma = (l0 / wavelen - s.LowFreqFactor) / (s.HighFreqFactor - s.LowFreqFactor);
            inv[i] = (1 - sigma) * inv[i] / s.Factor + sigma * inv[i];
        }
        return inv;
    }

    /// <summary>Interleaved-pair rotation of one head vector at position p (spec §2.4).</summary>
    public static double[] Rotate(double[] u, double[] invFreq, long p)
    {
        var r = new double[u.Length];
        for (int i = 0; i < u.Length / 2; i++)
        {
            double a = p * invFreq[i], c = Math.Cos(a), s = Math.Sin(a);
            r[2 * i] = u[2 * i] * c - u[2 * i + 1] * s;
            r[2 * i + 1] = u[2 * i] * s + u[2 * i + 1] * c;
        }
        return r;
    }

    private double[][] Attention(int layer, double[][] x)
    {
        int t = x.Length, d = _c.HiddenSize, h = _c.NumAttentionHeads, kv = _c.NumKeyValueHeads, hd = _c.HeadDim;
        string p = $"model.layers.{layer}.self_attn.";
        bool rope = _c.IsRopeLayer(layer);
        var inv = InverseFrequencies(hd, _c.RopeTheta, _c.RopeScaling);
        var q = new double[t][][];
        var k = new double[t][][];
        var v = new double[t][][];
        for (int i = 0; i < t; i++)
        {
            var qa = MatVec(_w.Get(p + "q_proj.weight"), h * hd, d, x[i]);
            var ka = MatVec(_w.Get(p + "k_proj.weight"), kv * hd, d, x[i]);
            var va = MatVec(_w.Get(p + "v_proj.weight"), kv * hd, d, x[i]);
            q[i] = Enumerable.Range(0, h).Select(j => qa.AsSpan(j * hd, hd).ToArray()).ToArray();
            k[i] = Enumerable.Range(0, kv).Select(j => ka.AsSpan(j * hd, hd).ToArray()).ToArray();
            v[i] = Enumerable.Range(0, kv).Select(j => va.AsSpan(j * hd, hd).ToArray()).ToArray();
            if (rope)
            {
                for (int j = 0; j < h; j++) q[i][j] = Rotate(q[i][j], inv, i);
                for (int j = 0; j < kv; j++) k[i][j] = Rotate(k[i][j], inv, i);
                if (_c.UseQkNorm)
                {
                    for (int j = 0; j < h; j++) q[i][j] = RmsNorm(q[i][j], null);
                    for (int j = 0; j < kv; j++) k[i][j] = RmsNorm(k[i][j], null);
                }
            }
            else if (_c.AttnTemperatureTuning)
            {
                double tau = 1 + _c.AttnScale * Math.Log(1 + Math.Floor((i + 1) / _c.FloorScale));
                for (int j = 0; j < h; j++) q[i][j] = q[i][j].Select(e => e * tau).ToArray();
            }
        }
        int g = h / kv;
        var output = new double[t][];
        for (int i = 0; i < t; i++)
        {
            var o = new double[h * hd];
            for (int head = 0; head < h; head++)
            {
                int kvHead = head / g;
                var scores = new List<(int J, double S)>();
                for (int j = 0; j <= i; j++)
                {
                    if (rope && j / _c.AttentionChunkSize!.Value != i / _c.AttentionChunkSize.Value) continue;
                    double s = 0;
                    for (int e = 0; e < hd; e++) s += q[i][head][e] * k[j][kvHead][e];
                    scores.Add((j, s / Math.Sqrt(hd)));
                }
                double max = scores.Max(s => s.S);
                double sum = scores.Sum(s => Math.Exp(s.S - max));
                foreach (var (j, s) in scores)
                {
                    double w = Math.Exp(s - max) / sum;
                    for (int e = 0; e < hd; e++) o[head * hd + e] += w * v[j][kvHead][e];
                }
            }
            output[i] = MatVec(_w.Get(p + "o_proj.weight"), d, h * hd, o);
        }
        return output;
    }

    private double[] Moe(int layer, double[] x)
    {
        int d = _c.HiddenSize, e = _c.NumLocalExperts, f = _c.IntermediateSize;
        string p = $"model.layers.{layer}.feed_forward.";
        var logits = MatVec(_w.Get(p + "router.weight"), e, d, x);
        var chosen = Enumerable.Range(0, e).OrderByDescending(i => logits[i]).Take(_c.NumExpertsPerToken).ToArray();
        var y = Mlp(x, p + "shared_expert.");
        var gateUp = _w.Get(p + "experts.gate_up_proj"); // [E, D, 2F], z · W
        var down = _w.Get(p + "experts.down_proj");      // [E, F, D], h · W
        foreach (int ex in chosen.OrderBy(i => i))
        {
            double g = 1 / (1 + Math.Exp(-logits[ex]));
            var z = x.Select(a => a * g).ToArray(); // the weight scales the expert INPUT
            var hidden = new double[f];
            for (int j = 0; j < f; j++)
            {
                double gate = 0, up = 0;
                for (int i = 0; i < d; i++)
                {
                    gate += z[i] * gateUp[((long)ex * d + i) * 2 * f + j];
                    up += z[i] * gateUp[((long)ex * d + i) * 2 * f + f + j];
                }
                hidden[j] = Silu(gate) * up;
            }
            for (int o = 0; o < d; o++)
            {
                double s = 0;
                for (int j = 0; j < f; j++) s += hidden[j] * down[((long)ex * f + j) * d + o];
                y[o] += s;
            }
        }
        return y;
    }

    private double[] Mlp(double[] x, string prefix)
    {
        var gw = _w.Get(prefix + "gate_proj.weight");
        int f = gw.Length / x.Length;
        var gate = MatVec(gw, f, x.Length, x);
        var up = MatVec(_w.Get(prefix + "up_proj.weight"), f, x.Length, x);
        var h = gate.Select((a, i) => Silu(a) * up[i]).ToArray();
        return MatVec(_w.Get(prefix + "down_proj.weight"), x.Length, f, h);
    }

    private double[] RmsNorm(double[] x, double[]? w)
    {
        double ms = x.Sum(a => a * a) / x.Length;
        double r = 1 / Math.Sqrt(ms + _c.RmsNormEps);
        return x.Select((a, i) => a * r * (w is null ? 1 : w[i])).ToArray();
    }

    private static double Silu(double z) => z / (1 + Math.Exp(-z));

    private static double[] Add(double[] a, double[] b) => a.Select((x, i) => x + b[i]).ToArray();

    /// <summary>y = W·x for W <c>[rows, cols]</c> row-major (nn.Linear).</summary>
    private static double[] MatVec(double[] w, int rows, int cols, double[] x)
    {
        var y = new double[rows];
        for (int r = 0; r < rows; r++)
        {
            double s = 0;
            long o = (long)r * cols;
            for (int c = 0; c < cols; c++) s += w[o + c] * x[c];
            y[r] = s;
        }
        return y;
    }
}
