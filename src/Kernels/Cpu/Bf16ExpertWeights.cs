namespace Llama4Cluster.Kernels.Cpu;

/// <summary>
/// One SwiGLU expert's bf16 weights (raw bits, <c>ushort*</c>), as addresses into memory the caller keeps alive
/// and pinned (e.g. the storage of a CPU bf16 tensor) while a kernel runs.
/// </summary>
/// <param name="GateUp">bf16 <c>[2·Intermediate, Hidden]</c>: rows 0..F-1 gate, F..2F-1 up
/// (the <c>nn.Linear</c> layout, gate and up concatenated along the output dim).</param>
/// <param name="Down">bf16 <c>[Hidden, Intermediate]</c>.</param>
/// <param name="Hidden">D, the model's hidden size.</param>
/// <param name="Intermediate">F, the expert's intermediate size.</param>
public readonly record struct Bf16ExpertWeights(nint GateUp, nint Down, int Hidden, int Intermediate)
{
    /// <summary>Bytes of weights one forward pass streams.</summary>
    public long Bytes => 3L * Hidden * Intermediate * sizeof(ushort);
}
