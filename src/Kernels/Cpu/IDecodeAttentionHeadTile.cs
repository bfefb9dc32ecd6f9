namespace Llama4Cluster.Kernels.Cpu;

/// <summary>
/// How many query heads (1 to 8) a <see cref="DecodeAttentionBlock"/> call computes together: a
/// static-abstract generic argument, so the JIT compiles one kernel per count and drops the
/// <c>if (TG.Count &gt; g)</c> branches and unused accumulators. The eight counts below are the only
/// implementations and nothing but their number differs, so they share this file.
/// </summary>
internal interface IDecodeAttentionHeadTile
{
    static abstract int Count { get; }
}

internal readonly struct DecodeAttentionHeads1 : IDecodeAttentionHeadTile { public static int Count => 1; }
internal readonly struct DecodeAttentionHeads2 : IDecodeAttentionHeadTile { public static int Count => 2; }
internal readonly struct DecodeAttentionHeads3 : IDecodeAttentionHeadTile { public static int Count => 3; }
internal readonly struct DecodeAttentionHeads4 : IDecodeAttentionHeadTile { public static int Count => 4; }
internal readonly struct DecodeAttentionHeads5 : IDecodeAttentionHeadTile { public static int Count => 5; }
internal readonly struct DecodeAttentionHeads6 : IDecodeAttentionHeadTile { public static int Count => 6; }
internal readonly struct DecodeAttentionHeads7 : IDecodeAttentionHeadTile { public static int Count => 7; }
internal readonly struct DecodeAttentionHeads8 : IDecodeAttentionHeadTile { public static int Count => 8; }
