namespace Llama4Cluster.Kernels.Cpu;

/// <summary>
/// One call of <see cref="Bf16DecodeAttention"/>, shared by the threads of a <see cref="CpuWorkerPool"/>:
/// the work is <see cref="Units"/> = <see cref="Blocks"/> × <see cref="KvHeads"/> units (one block of
/// keys of one kv head, for all G query heads that read it), handed out from <see cref="NextUnit"/>.
/// Unit u is block <c>u / KvHeads</c> of kv head <c>u % KvHeads</c> (block-major, so the threads
/// stream neighbouring memory at the same time).
/// </summary>
internal unsafe struct DecodeAttentionJob
{
    /// <summary>fp32 <c>[H, hd]</c>, already multiplied by the softmax scale.</summary>
    public float* Q;

    /// <summary>bf16 bits or fp32: key j of kv head c at byte <c>j·RowStride + c·HeadStride</c>, its hd elements contiguous.</summary>
    public void* Keys;

    /// <summary>Same layout and element type as <see cref="Keys"/>.</summary>
    public void* Values;

    /// <summary>Bytes from key j to key j + 1 of one kv head: <c>KV·hd·size</c> for a <c>[m, KV, hd]</c> cache, <c>hd·size</c>
    /// for a head-major one (<c>[KV, capacity, hd]</c>, what <see cref="Model.LayerKvCache"/> holds), whose rows a
    /// unit then reads as one sequential stream.</summary>
    public long RowStride;

    /// <summary>Bytes from kv head c to c + 1 of one key.</summary>
    public long HeadStride;

    /// <summary>Per (unit, group head) partial result, <see cref="PartialStride"/> floats each:
    /// o[hd] unnormalized, then at <c>[PartialStride - 16]</c> the block max and at
    /// <c>[PartialStride - 15]</c> the block's Σ exp(s - max).</summary>
    public float* Partials;

    /// <summary>Per worker score buffer, <see cref="ScoreStride"/> floats each.</summary>
    public float* Scores;

    public int Heads;
    public int KvHeads;
    public int Group;
    public int HeadDim;
    public int KeyCount;
    public int BlockKeys;
    public int Blocks;
    public int Units;
    public int PartialStride;
    public int ScoreStride;
    public bool Bf16;
    public Bf16Isa Isa;
    public int NextUnit;
}
