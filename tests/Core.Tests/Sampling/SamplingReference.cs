using Llama4Cluster.Core.Sampling;

namespace Llama4Cluster.Core.Tests.Sampling;

/// <summary>Independent reference math (double precision, plain loops and full sorts) for the sampler tests.</summary>
internal static class SamplingReference
{
    public static readonly int[] NoTokens = [];

    public static double[] Softmax(ReadOnlySpan<float> logits, double temperature = 1.0)
    {
        var max = double.NegativeInfinity;
        foreach (var x in logits)
        {
            max = Math.Max(max, x / temperature);
        }

        var result = new double[logits.Length];
        var sum = 0.0;
        for (var i = 0; i < logits.Length; i++)
        {
            result[i] = Math.Exp((logits[i] / temperature) - max);
            sum += result[i];
        }

        for (var i = 0; i < result.Length; i++)
        {
            result[i] /= sum;
        }

        return result;
    }

    public static double[] LogSoftmax(ReadOnlySpan<float> logits)
    {
        var max = double.NegativeInfinity;
        foreach (var x in logits)
        {
            max = Math.Max(max, x);
        }

        var sum = 0.0;
        foreach (var x in logits)
        {
            sum += Math.Exp(x - max);
        }

        var logSum = max + Math.Log(sum);
        var result = new double[logits.Length];
        for (var i = 0; i < logits.Length; i++)
        {
            result[i] = logits[i] - logSum;
        }

        return result;
    }

    /// <summary>Logits whose softmax is exactly proportional to <paramref name="weights"/> (up to float rounding).</summary>
    public static float[] LogitsFor(params double[] weights) => [.. weights.Select(w => (float)Math.Log(w))];

    /// <summary>The ids with non-zero probability, ascending.</summary>
    public static int[] Support(ReadOnlySpan<float> probabilities)
    {
        var ids = new List<int>();
        for (var i = 0; i < probabilities.Length; i++)
        {
            if (probabilities[i] > 0f)
            {
                ids.Add(i);
            }
        }

        return [.. ids];
    }

    /// <summary>The sampler's final distribution for a single logits vector with empty history.</summary>
    public static float[] Distribution(SamplingParams parameters, float[] logits, int[]? prompt = null, int[]? generated = null)
    {
        var sampler = new Sampler(parameters, []);
        var probabilities = new float[logits.Length];
        sampler.ComputeProbabilities(logits, prompt ?? NoTokens, generated ?? NoTokens, probabilities);
        return probabilities;
    }

    /// <summary>Normally distributed logits (Box-Muller) with a fixed seed, like a real model's spread.</summary>
    public static float[] RandomLogits(int vocabularySize, int seed, double scale = 3.0)
    {
        var random = new Random(seed);
        var logits = new float[vocabularySize];
        for (var i = 0; i < logits.Length; i++)
        {
            var u1 = 1.0 - random.NextDouble();
            var u2 = random.NextDouble();
            logits[i] = (float)(scale * Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2.0 * Math.PI * u2));
        }

        return logits;
    }
}
