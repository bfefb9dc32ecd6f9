namespace Llama4Cluster.Kernels.Benchmarks;

/// <summary>One measured case: the figure, the baseline measured in the same run, their ratio, and the target ratio.</summary>
public sealed record KernelBenchmarkRow(string Case, string Unit, double Measured, string BaselineName, double Baseline, double Target)
{
    public double Ratio => Baseline > 0 ? Measured / Baseline : 0;
    public bool MeetsTarget => Ratio >= Target;
}
