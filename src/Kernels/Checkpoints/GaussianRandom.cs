namespace Llama4Cluster.Kernels.Checkpoints;

/// <summary>
/// Standard normal samples from <see cref="Random"/>(seed) by the Box–Muller transform: reproducible on every
/// platform and independent of torch's generator. Each uniform pair gives two samples, used in order.
/// </summary>
internal sealed class GaussianRandom(int seed)
{
    private readonly Random _uniform = new(seed);
    private double? _spare;

    public double Next()
    {
        if (_spare is { } s)
        {
            _spare = null;
            return s;
        }
        double u1 = 1.0 - _uniform.NextDouble(); // (0, 1]: log is finite
        double u2 = _uniform.NextDouble();
        double r = Math.Sqrt(-2.0 * Math.Log(u1));
        _spare = r * Math.Sin(2 * Math.PI * u2);
        return r * Math.Cos(2 * Math.PI * u2);
    }

    /// <summary><paramref name="count"/> samples of mean + std·N(0, 1).</summary>
    public float[] Normal(long count, double mean, double std)
    {
        var values = new float[count];
        for (long i = 0; i < count; i++) values[i] = (float)(mean + std * Next());
        return values;
    }
}
