namespace Llama4Cluster.Cluster.Placement;

/// <summary>
/// The figures of one GPU model that the step cost model (<see cref="StepCostModel"/>) uses: peak HBM bandwidth, peak dense
/// (not sparse) tensor FLOP/s in bf16 and fp8, and the per-direction bandwidth of its NVLink and PCIe links. Vendor
/// datasheet peaks (<see cref="Source"/>); real kernels reach a fraction of them, so estimates are optimistic bounds.
/// </summary>
public sealed record GpuSpec(string Name, double HbmBytesPerSecond, double Bf16FlopsPerSecond, double Fp8FlopsPerSecond,
    double NvLinkBytesPerSecond, double PcieBytesPerSecond, string Source)
{
    /// <summary>
    /// H100 SXM5 80 GB: HBM3 3.35 TB/s, 989 TFLOP/s bf16 and 1979 TFLOP/s fp8 dense, NVLink 4 900 GB/s (450 GB/s each way),
    /// PCIe 5.0 x16 (64 GB/s each way).
    /// </summary>
    public static GpuSpec H100 { get; } = new("h100", 3.35e12, 989e12, 1979e12, 450e9, 64e9, "NVIDIA H100 Tensor Core GPU datasheet (SXM5)");

    /// <summary>H100 PCIe 80 GB: HBM2e 2.0 TB/s, 756 TFLOP/s bf16 and 1513 TFLOP/s fp8 dense, PCIe 5.0 x16; NVLink bridge 600 GB/s (300 each way).</summary>
    public static GpuSpec H100Pcie { get; } = new("h100-pcie", 2.0e12, 756e12, 1513e12, 300e9, 64e9, "NVIDIA H100 Tensor Core GPU datasheet (PCIe)");

    /// <summary>H200 SXM 141 GB: HBM3e 4.8 TB/s; compute and NVLink as H100 SXM.</summary>
    public static GpuSpec H200 { get; } = new("h200", 4.8e12, 989e12, 1979e12, 450e9, 64e9, "NVIDIA H200 Tensor Core GPU datasheet (SXM)");

    /// <summary>
    /// A100 SXM4 80 GB: HBM2e 2.039 TB/s, 312 TFLOP/s bf16 dense, no fp8 (fp8 weights run in bf16: the same FLOP/s),
    /// NVLink 3 600 GB/s (300 each way), PCIe 4.0 x16 (32 GB/s each way).
    /// </summary>
    public static GpuSpec A100 { get; } = new("a100", 2.039e12, 312e12, 312e12, 300e9, 32e9, "NVIDIA A100 Tensor Core GPU datasheet (SXM4 80GB)");

    public static IReadOnlyList<GpuSpec> Known { get; } = [H100, H100Pcie, H200, A100];

    /// <summary>A known GPU by name (case-insensitive); an <see cref="ArgumentException"/> listing the names otherwise.</summary>
    public static GpuSpec Get(string name) =>
        Known.FirstOrDefault(g => string.Equals(g.Name, name, StringComparison.OrdinalIgnoreCase))
        ?? throw new ArgumentException($"--gpu must be one of {string.Join(", ", Known.Select(g => g.Name))}; got '{name}'");
}
