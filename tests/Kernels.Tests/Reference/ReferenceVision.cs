using Llama4Cluster.Core.Config;

namespace Llama4Cluster.Kernels.Tests.Reference;

/// <summary>
/// An independent float64 oracle of the vision path (spec §5.2): plain loops over the checkpoint's weights, tile by tile,
/// token by token. Shares no code with src/Kernels (not the RoPE table, not the pixel shuffle, not GELU).
/// </summary>
public sealed class ReferenceVision(ReferenceWeights weights, Llama4VisionConfig config, string prefix = "")
{
    private readonly string _v = prefix + "vision_model.";
    private readonly string _m = prefix + "multi_modal_projector.";

    /// <summary>Features <c>[tiles · tokens per tile][text hidden]</c> of normalised tiles <c>[tiles][3·S·S]</c> (channel-major).</summary>
    public double[][] Features(IReadOnlyList<double[]> tiles)
    {
        var rows = new List<double[]>();
        foreach (var tile in tiles) rows.AddRange(Tile(tile));
        return [.. rows];
    }

    private double[][] Tile(double[] pixels)
    {
        int s = config.ImageSize, p = config.PatchSize, g = s / p, h = config.HiddenSize, patches = g * g;
        int heads = config.NumAttentionHeads, hd = h / heads;
        var w = weights;

        // Patch embedding: patch (row, col) flattened as c·p² + i·p + j.
        var x = new double[patches + 1][];
        var wp = w.Get(_v + "patch_embedding.linear.weight");
        int pv = 3 * p * p;
        for (int row = 0; row < g; row++)
        for (int col = 0; col < g; col++)
        {
            var v = new double[pv];
            for (int c = 0; c < 3; c++)
                for (int i = 0; i < p; i++)
                    for (int j = 0; j < p; j++)
                        v[c * p * p + i * p + j] = pixels[c * s * s + (row * p + i) * s + col * p + j];
            x[row * g + col] = MatVec(wp, h, pv, v);
        }

        x[patches] = (double[])w.Get(_v + "class_embedding").Clone(); // the class token is the last one
        var pos = w.Get(_v + "positional_embedding_vlm");
        for (int t = 0; t <= patches; t++)
            for (int k = 0; k < h; k++) x[t][k] += pos[t * h + k];
        x = x.Select(r => LayerNorm(r, _v + "layernorm_pre")).ToArray();

        for (int layer = 0; layer < config.NumHiddenLayers; layer++)
        {
            string pre = $"{_v}model.layers.{layer}.";
            var y = x.Select(r => LayerNorm(r, pre + "input_layernorm")).ToArray();
            var q = y.Select(r => Linear(r, pre + "self_attn.q_proj", h, h)).ToArray();
            var k = y.Select(r => Linear(r, pre + "self_attn.k_proj", h, h)).ToArray();
            var val = y.Select(r => Linear(r, pre + "self_attn.v_proj", h, h)).ToArray();
            for (int t = 0; t <= patches; t++)
            {
                q[t] = Rope(q[t], t, g, heads, hd);
                k[t] = Rope(k[t], t, g, heads, hd);
            }

            var attended = new double[patches + 1][];
            for (int t = 0; t <= patches; t++)
            {
                attended[t] = new double[h];
                for (int head = 0; head < heads; head++)
                {
                    var scores = new double[patches + 1];
                    for (int u = 0; u <= patches; u++)
                    {
                        double dot = 0;
                        for (int e = 0; e < hd; e++) dot += q[t][head * hd + e] * k[u][head * hd + e];
                        scores[u] = dot / Math.Sqrt(hd);
                    }

                    double max = scores.Max(), sum = 0;
                    for (int u = 0; u <= patches; u++) sum += scores[u] = Math.Exp(scores[u] - max);
                    for (int u = 0; u <= patches; u++)
                        for (int e = 0; e < hd; e++) attended[t][head * hd + e] += scores[u] / sum * val[u][head * hd + e];
                }
            }

            for (int t = 0; t <= patches; t++)
            {
                var o = Linear(attended[t], pre + "self_attn.o_proj", h, h);
                for (int e = 0; e < h; e++) x[t][e] += o[e];
                var n2 = LayerNorm(x[t], pre + "post_attention_layernorm");
                var f1 = Linear(n2, pre + "mlp.fc1", config.IntermediateSize, h).Select(Gelu).ToArray();
                var f2 = Linear(f1, pre + "mlp.fc2", h, config.IntermediateSize);
                for (int e = 0; e < h; e++) x[t][e] += f2[e];
            }
        }

        x = x.Take(patches).Select(r => LayerNorm(r, _v + "layernorm_post")).ToArray(); // the class token dropped

        // Pixel shuffle (ratio 1/2): token a·(g/2) + b holds patches (2a, 2b), (2a, 2b+1), (2a+1, 2b), (2a+1, 2b+1) in turn.
        int half = g / 2;
        var shuffled = new double[half * half][];
        for (int a = 0; a < half; a++)
        for (int b = 0; b < half; b++)
        {
            var token = new double[4 * h];
            int slot = 0;
            foreach (var (dr, dc) in new[] { (0, 0), (0, 1), (1, 0), (1, 1) })
            {
                Array.Copy(x[(2 * a + dr) * g + 2 * b + dc], 0, token, slot * h, h);
                slot++;
            }

            shuffled[a * half + b] = token;
        }

        var adapter1 = w.Get(_v + "vision_adapter.mlp.fc1.weight");
        var adapter2 = w.Get(_v + "vision_adapter.mlp.fc2.weight");
        var projector = w.Get(_m + "linear_1.weight");
        int d = (int)w.Shape(_m + "linear_1.weight")[0];
        return shuffled.Select(t =>
        {
            var a1 = MatVec(adapter1, config.ProjectorInputDim, 4 * h, t).Select(Gelu).ToArray();
            var a2 = MatVec(adapter2, config.ProjectorOutputDim, config.ProjectorInputDim, a1).Select(Gelu).ToArray();
            return MatVec(projector, d, config.VisionOutputDim, a2);
        }).ToArray();
    }

    /// <summary>2-D RoPE, interleaved pairs: pair k &lt; hd/4 turns by (col + 1)·θ^(−2k/(hd/2)), pair hd/4 + k by (row + 1)·the
    /// same frequency; the class token (index g²) does not turn.</summary>
    private double[] Rope(double[] v, int token, int g, int heads, int hd)
    {
        if (token == g * g) return v;
        int row = token / g, col = token % g, quarter = hd / 4;
        var r = (double[])v.Clone();
        for (int head = 0; head < heads; head++)
        {
            for (int pair = 0; pair < hd / 2; pair++)
            {
                int k = pair % quarter;
                double angle = (pair < quarter ? col + 1 : row + 1) * Math.Pow(config.RopeTheta, -2.0 * k / (hd / 2));
                int i = head * hd + 2 * pair;
                double a = v[i], b = v[i + 1];
                r[i] = a * Math.Cos(angle) - b * Math.Sin(angle);
                r[i + 1] = a * Math.Sin(angle) + b * Math.Cos(angle);
            }
        }

        return r;
    }

    private double[] LayerNorm(double[] x, string name)
    {
        var gamma = weights.Get(name + ".weight");
        var beta = weights.Get(name + ".bias");
        double mean = x.Average();
        double variance = x.Select(e => (e - mean) * (e - mean)).Average();
        double inv = 1 / Math.Sqrt(variance + config.NormEps);
        return x.Select((e, i) => (e - mean) * inv * gamma[i] + beta[i]).ToArray();
    }

    private double[] Linear(double[] x, string name, int outFeatures, int inFeatures)
    {
        var y = MatVec(weights.Get(name + ".weight"), outFeatures, inFeatures, x);
        var bias = weights.Get(name + ".bias");
        for (int i = 0; i < outFeatures; i++) y[i] += bias[i];
        return y;
    }

    private static double[] MatVec(double[] w, int rows, int cols, double[] x)
    {
        var y = new double[rows];
        for (int r = 0; r < rows; r++)
        {
            double sum = 0;
            for (int c = 0; c < cols; c++) sum += w[(long)r * cols + c] * x[c];
            y[r] = sum;
        }

        return y;
    }

    /// <summary>Exact GELU, x·Φ(x), with erf to double precision.</summary>
    public static double Gelu(double x) => 0.5 * x * (1 + Erf(x / Math.Sqrt(2)));

    /// <summary>erf: the Maclaurin series below 3 (terms summed until they vanish), the erfc continued fraction above.</summary>
    public static double Erf(double x)
    {
        double ax = Math.Abs(x);
        if (ax < 3)
        {
            double sum = 0, term = ax;
            for (int n = 0; n < 200; n++)
            {
                double add = term / (2 * n + 1);
                sum += add;
                if (Math.Abs(add) < 1e-17 * Math.Abs(sum)) break;
                term *= -ax * ax / (n + 1);
            }

            return Math.Sign(x) * sum * 2 / Math.Sqrt(Math.PI);
        }

        // erfc(x) = exp(−x²)/√π · 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + 2/(x + …))))), evaluated from the tail.
        double f = ax;
        for (int n = 60; n >= 1; n--) f = ax + n / 2.0 / f;
        double erfc = Math.Exp(-ax * ax) / Math.Sqrt(Math.PI) / f;
        return Math.Sign(x) * (1 - erfc);
    }
}
