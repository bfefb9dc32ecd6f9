namespace Llama4Cluster.Kernels.Tests.Cpu;

/// <summary>Random bf16 data and float64 reference math for the CPU kernel tests.</summary>
internal static class Bf16Reference
{
    public static ushort[] RandomBf16(Random rng, int count, double scale = 1.0)
    {
        var w = new ushort[count];
        for (int i = 0; i < count; i++)
        {
            float v = (float)((rng.NextDouble() * 2 - 1) * scale);
            w[i] = (ushort)(BitConverter.SingleToInt32Bits(v) >> 16);
        }

        return w;
    }

    public static float[] RandomFloats(Random rng, int count, double scale = 1.0)
    {
        var x = new float[count];
        for (int i = 0; i < count; i++)
        {
            x[i] = (float)((rng.NextDouble() * 2 - 1) * scale);
        }

        return x;
    }

    public static double ToDouble(ushort bits) => BitConverter.Int32BitsToSingle(bits << 16);

    /// <summary>y[b, o] = Σ_i x[b, i]·W[o, i] in float64.</summary>
    public static double[] MatMul(float[] x, ushort[] w, int batch, int inF, int outF)
    {
        var y = new double[batch * outF];
        for (int b = 0; b < batch; b++)
        {
            for (int o = 0; o < outF; o++)
            {
                double s = 0;
                for (int i = 0; i < inF; i++)
                {
                    s += x[b * inF + i] * ToDouble(w[o * inF + i]);
                }

                y[b * outF + o] = s;
            }
        }

        return y;
    }

    /// <summary>silu(x·Gᵀ) ⊙ (x·Uᵀ) · Downᵀ in float64; gateUp is [2F, D], down [D, F].</summary>
    public static double[] SwiGlu(float[] x, ushort[] gateUp, ushort[] down, int batch, int d, int f)
    {
        var gu = MatMul(x, gateUp, batch, d, 2 * f);
        var y = new double[batch * d];
        for (int b = 0; b < batch; b++)
        {
            var h = new double[f];
            for (int j = 0; j < f; j++)
            {
                double g = gu[b * 2 * f + j];
                h[j] = g / (1 + Math.Exp(-g)) * gu[b * 2 * f + f + j];
            }

            for (int o = 0; o < d; o++)
            {
                double s = 0;
                for (int j = 0; j < f; j++)
                {
                    s += h[j] * ToDouble(down[o * f + j]);
                }

                y[b * d + o] = s;
            }
        }

        return y;
    }

    /// <summary>Asserts |actual - expected| ≤ tol·(1 + |expected|) elementwise.</summary>
    public static void AssertClose(double[] expected, ReadOnlySpan<float> actual, double tol, string what)
    {
        Assert.True(actual.Length >= expected.Length, $"{what}: output too short");
        for (int i = 0; i < expected.Length; i++)
        {
            double err = Math.Abs(actual[i] - expected[i]);
            if (err > tol * (1 + Math.Abs(expected[i])))
            {
                Assert.Fail($"{what}: element {i}: expected {expected[i]}, got {actual[i]} (error {err})");
            }
        }
    }
}
