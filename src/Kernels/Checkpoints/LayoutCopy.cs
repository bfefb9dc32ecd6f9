using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Llama4Cluster.Kernels.Checkpoints;

/// <summary>
/// The one layout change loading needs that no view can express: the fused experts' <c>[E, D, 2F]</c> /
/// <c>[E, F, D]</c> (<c>z · W</c>) into nn.Linear's <c>[n, 2F, D]</c> / <c>[n, D, F]</c>, which both the GEMM
/// and the weight-streaming decode kernel read. A tiled transpose straight from the mapped file into the
/// destination, in parallel over blocks of destination rows (each block a contiguous range, written once), with the
/// BF16 → F32 widening folded in for fp32 compute from a bf16 checkpoint. libtorch's strided
/// <c>transpose(1, 2).contiguous()</c> of bf16 ran at a quarter of this speed or less (docs/PERFORMANCE.md, Loading).
/// </summary>
internal static unsafe class LayoutCopy
{
    // 32 × 32 tiles: the 32 source rows a tile reads stay in L1 while their 64-byte lines are consumed column by column.
    private const int Tile = 32;

    /// <summary>Destination rows per parallel work item (a few hundred KiB of output).</summary>
    private const int BlockRows = 128;

    /// <summary>
    /// For each expert i, <c>dst_i[c, r] = src_i[r, c]</c>: <paramref name="sources"/>[i] is a row-major
    /// <c>[rows, cols]</c> matrix of <paramref name="sourceSize"/>-byte elements; the destination holds the experts one
    /// after another, each <c>[cols, rows]</c>. Same-size elements are copied bit for bit; 2 → 4 bytes widens BF16 to F32.
    /// </summary>
    public static void TransposeExperts(IReadOnlyList<nint> sources, int rows, int cols, int sourceSize, int destinationSize, nint destination,
        int threads)
    {
        if (!(sourceSize == destinationSize && sourceSize is 1 or 2 or 4 or 8) && !(sourceSize == 2 && destinationSize == 4))
            throw new ArgumentException($"no transpose from {sourceSize}-byte to {destinationSize}-byte elements");
        int blocks = (cols + BlockRows - 1) / BlockRows;
        long perExpert = (long)rows * cols;
        var src = sources.ToArray();
        Parallel.For(0, (long)src.Length * blocks, new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, threads) }, item =>
        {
            int expert = (int)(item / blocks), c0 = (int)(item % blocks) * BlockRows;
            int c1 = Math.Min(cols, c0 + BlockRows);
            nint dst = destination + (nint)(expert * perExpert * destinationSize);
            if (sourceSize == 2 && Sse2.IsSupported && rows % 8 == 0 && cols % 8 == 0)
            {
                Block16((ushort*)src[expert], (byte*)dst, rows, cols, c0, c1, widen: destinationSize == 4);
                return;
            }
            switch (sourceSize, destinationSize)
            {
                case (2, 4): Widen((ushort*)src[expert], (uint*)dst, rows, cols, c0, c1); break;
                case (1, 1): Block((byte*)src[expert], (byte*)dst, rows, cols, c0, c1); break;
                case (2, 2): Block((ushort*)src[expert], (ushort*)dst, rows, cols, c0, c1); break;
                case (4, 4): Block((uint*)src[expert], (uint*)dst, rows, cols, c0, c1); break;
                default: Block((ulong*)src[expert], (ulong*)dst, rows, cols, c0, c1); break;
            }
        });
    }

    /// <summary>
    /// 16-bit elements, <paramref name="rows"/> and <paramref name="cols"/> multiples of 8: 8 × 8 blocks transposed in
    /// registers. For each group of 32 destination rows the source is walked down once (each 64-byte source line used
    /// whole), writing 32 sequential destination streams; widened to F32 by interleaving zeros below each BF16.
    /// </summary>
    private static void Block16(ushort* src, byte* dst, int rows, int cols, int c0, int c1, bool widen)
    {
        int outSize = widen ? 4 : 2;
        for (int cg = c0; cg < c1; cg += Tile)
        {
            int ce = Math.Min(c1, cg + Tile);
            for (int r = 0; r < rows; r += 8)
            {
                ushort* s = src + (long)r * cols;
                for (int c = cg; c < ce; c += 8)
                {
                    var a0 = Sse2.LoadVector128(s + c);
                    var a1 = Sse2.LoadVector128(s + cols + c);
                    var a2 = Sse2.LoadVector128(s + 2L * cols + c);
                    var a3 = Sse2.LoadVector128(s + 3L * cols + c);
                    var a4 = Sse2.LoadVector128(s + 4L * cols + c);
                    var a5 = Sse2.LoadVector128(s + 5L * cols + c);
                    var a6 = Sse2.LoadVector128(s + 6L * cols + c);
                    var a7 = Sse2.LoadVector128(s + 7L * cols + c);
                    var t0 = Sse2.UnpackLow(a0, a1).AsUInt32();
                    var t1 = Sse2.UnpackHigh(a0, a1).AsUInt32();
                    var t2 = Sse2.UnpackLow(a2, a3).AsUInt32();
                    var t3 = Sse2.UnpackHigh(a2, a3).AsUInt32();
                    var t4 = Sse2.UnpackLow(a4, a5).AsUInt32();
                    var t5 = Sse2.UnpackHigh(a4, a5).AsUInt32();
                    var t6 = Sse2.UnpackLow(a6, a7).AsUInt32();
                    var t7 = Sse2.UnpackHigh(a6, a7).AsUInt32();
                    var u0 = Sse2.UnpackLow(t0, t2).AsUInt64();
                    var u1 = Sse2.UnpackHigh(t0, t2).AsUInt64();
                    var u2 = Sse2.UnpackLow(t1, t3).AsUInt64();
                    var u3 = Sse2.UnpackHigh(t1, t3).AsUInt64();
                    var u4 = Sse2.UnpackLow(t4, t6).AsUInt64();
                    var u5 = Sse2.UnpackHigh(t4, t6).AsUInt64();
                    var u6 = Sse2.UnpackLow(t5, t7).AsUInt64();
                    var u7 = Sse2.UnpackHigh(t5, t7).AsUInt64();
                    byte* d = dst + ((long)c * rows + r) * outSize;
                    long stride = (long)rows * outSize;
                    Store(d, Sse2.UnpackLow(u0, u4), widen);
                    Store(d + stride, Sse2.UnpackHigh(u0, u4), widen);
                    Store(d + 2 * stride, Sse2.UnpackLow(u1, u5), widen);
                    Store(d + 3 * stride, Sse2.UnpackHigh(u1, u5), widen);
                    Store(d + 4 * stride, Sse2.UnpackLow(u2, u6), widen);
                    Store(d + 5 * stride, Sse2.UnpackHigh(u2, u6), widen);
                    Store(d + 6 * stride, Sse2.UnpackLow(u3, u7), widen);
                    Store(d + 7 * stride, Sse2.UnpackHigh(u3, u7), widen);
                }
            }
        }
    }

    /// <summary>Eight 16-bit values as they are, or widened: BF16 bits b become the F32 bits b &lt;&lt; 16.</summary>
    private static void Store(byte* d, Vector128<ulong> column, bool widen)
    {
        var v = column.AsUInt16();
        if (!widen)
        {
            Sse2.Store((ushort*)d, v);
            return;
        }
        Sse2.Store((ushort*)d, Sse2.UnpackLow(Vector128<ushort>.Zero, v));
        Sse2.Store((ushort*)d + 8, Sse2.UnpackHigh(Vector128<ushort>.Zero, v));
    }

    /// <summary>Destination rows <c>[c0, c1)</c> (source columns) of one expert, tile by tile.</summary>
    private static void Block<T>(T* src, T* dst, int rows, int cols, int c0, int c1) where T : unmanaged
    {
        for (int r0 = 0; r0 < rows; r0 += Tile)
        {
            int r1 = Math.Min(rows, r0 + Tile);
            for (int ct = c0; ct < c1; ct += Tile)
            {
                int ce = Math.Min(c1, ct + Tile);
                for (int c = ct; c < ce; c++)
                {
                    T* d = dst + (long)c * rows;
                    T* s = src + c;
                    for (int r = r0; r < r1; r++) d[r] = s[(long)r * cols];
                }
            }
        }
    }

    /// <summary>As <see cref="Block{T}"/>, widening each BF16 to the F32 with the same value (its bits shifted up 16).</summary>
    private static void Widen(ushort* src, uint* dst, int rows, int cols, int c0, int c1)
    {
        for (int r0 = 0; r0 < rows; r0 += Tile)
        {
            int r1 = Math.Min(rows, r0 + Tile);
            for (int ct = c0; ct < c1; ct += Tile)
            {
                int ce = Math.Min(c1, ct + Tile);
                for (int c = ct; c < ce; c++)
                {
                    uint* d = dst + (long)c * rows;
                    ushort* s = src + c;
                    for (int r = r0; r < r1; r++) d[r] = (uint)s[(long)r * cols] << 16;
                }
            }
        }
    }
}
