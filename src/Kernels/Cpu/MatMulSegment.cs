namespace Llama4Cluster.Kernels.Cpu;

/// <summary>
/// One <c>y[b, o] = Σ_i x[b, i]·W[o, i]</c> problem inside a parallel job, split into chunks of
/// <see cref="RowsPerChunk"/> output rows. <see cref="X"/> is already in the kernel's lane order
/// (see <see cref="Bf16MatMul"/>), <c>[Batch, XStride]</c>; <see cref="Y"/> is <c>[Batch, YStride]</c>.
/// </summary>
internal unsafe struct MatMulSegment
{
    public ushort* W;
    public float* X;
    public float* Y;
    public int XStride;
    public int YStride;
    public int Batch;
    public int In;
    public int Out;
    public int RowsPerChunk;
    public int FirstChunk;
    public int ChunkCount;
}
