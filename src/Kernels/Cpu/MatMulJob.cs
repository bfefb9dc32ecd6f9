namespace Llama4Cluster.Kernels.Cpu;

/// <summary>
/// A set of <see cref="MatMulSegment"/>s run by all threads of a <see cref="CpuWorkerPool"/>:
/// threads take chunks (a few output rows of one segment) from <see cref="NextChunk"/> until none
/// are left, so a thread that starts late or is preempted just does less.
/// </summary>
internal unsafe struct MatMulJob
{
    public MatMulSegment* Segments;
    public int SegmentCount;
    public int TotalChunks;
    public int NextChunk;
    public Bf16Isa Isa;
}
