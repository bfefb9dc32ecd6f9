using Llama4Cluster.Core.Config;
using Llama4Cluster.Kernels.Model;
using Llama4Cluster.Kernels.Tests.Reference;
using TorchSharp;

namespace Llama4Cluster.Kernels.Tests.Model;

internal static class ModelTestData
{
    /// <summary>The spec §6 tiny configs and their top-k variants.</summary>
    public static Llama4TextConfig Config(string name) => name switch
    {
        "tiny-scout" => Llama4Presets.TinyScout,
        "tiny-scout-top2" => Llama4Presets.TinyScout with { NumExpertsPerToken = 2 },
        "tiny-maverick" => Llama4Presets.TinyMaverick,
        "tiny-maverick-top1" => Llama4Presets.TinyMaverick with { NumExpertsPerToken = 1 },
        _ => throw new ArgumentException(name),
    };

    public static int[] Tokens(int count, int seed = 7, int vocab = 512)
    {
        var rng = new Random(seed);
        return Enumerable.Range(0, count).Select(_ => rng.Next(vocab)).ToArray();
    }

    public static float[][] ToRows(torch.Tensor logits)
    {
        var data = logits.to_type(torch.ScalarType.Float32).cpu().data<float>().ToArray();
        int v = (int)logits.shape[1];
        return Enumerable.Range(0, (int)logits.shape[0]).Select(r => data.AsSpan(r * v, v).ToArray()).ToArray();
    }

    public static double MaxAbsDiff(IReadOnlyList<float[]> a, IReadOnlyList<double[]> b)
    {
        Assert.Equal(b.Count, a.Count);
        double max = 0;
        for (int i = 0; i < a.Count; i++)
            for (int j = 0; j < a[i].Length; j++)
                max = Math.Max(max, Math.Abs(a[i][j] - b[i][j]));
        return max;
    }

    public static double MaxAbsDiff(IReadOnlyList<float[]> a, IReadOnlyList<float[]> b) =>
        MaxAbsDiff(a, b.Select(r => r.Select(x => (double)x).ToArray()).ToArray());

    public static Llama4TextModel Load(ReferenceWeights w, torch.ScalarType dtype = torch.ScalarType.Float32) =>
        Llama4TextModel.Load(w, new ModelOptions { ComputeDType = dtype });

    /// <summary>All-position logits of a fresh sequence in one prefill step.</summary>
    public static float[][] Prefill(Llama4TextModel model, IReadOnlyList<int> tokens)
    {
        using var cache = model.CreateCache();
        using var logits = model.Forward([new SequenceSlice(cache, tokens, LogitsRequest.All)])!;
        return ToRows(logits);
    }
}
