using Llama4Cluster.Kernels.Cpu;
using TorchSharp;

namespace Llama4Cluster.Kernels.Checkpoints;

/// <summary>
/// One tensor of a checkpoint as found in its mapped safetensors file, with the reads that turn its
/// bytes into CPU tensors: whole (a view of the mapping, no copy, when the bytes are aligned), as expert
/// slices of a fused [E, a, b] tensor transposed to nn.Linear orientation (only those bytes are read), or
/// dequantised from FP8. <see cref="CheckpointReader"/> decides what to read; this type knows how the
/// bytes are laid out.
/// </summary>
internal readonly record struct CheckpointTensor(SafetensorsFile File, SafetensorsTensorInfo Info)
{
    // Whole-tensor reads go through a Span<byte>, so copy at most 1 GiB at a time (Span lengths are int).
    private const long MaxChunkBytes = 1L << 30;

    /// <summary>Throws when the stored shape is not <paramref name="expected"/>.</summary>
    public void CheckShape(string logicalName, IReadOnlyList<long> expected)
    {
        if (!Info.Shape.SequenceEqual(expected))
        {
            throw new CheckpointException(File.Path, Info.Name,
                $"shape {Info.ShapeText} does not match the expected {SafetensorsDTypes.FormatShape(expected)} (logical '{logicalName}'); " +
                "the checkpoint does not belong to this config.json");
        }
    }

    /// <summary>
    /// <c>numel(shape)</c> elements starting <paramref name="byteOffset"/> bytes into the tensor as a CPU tensor of the
    /// file's dtype: a view of the mapped file (no copy) when the bytes are aligned to the element size, otherwise a copy.
    /// </summary>
    public torch.Tensor ReadInPlace(long byteOffset, long[] shape)
    {
        var type = SafetensorsDTypes.ToTorch(Info.DType)
            ?? throw new CheckpointException(File.Path, Info.Name, $"dtype {Info.DType} has no torch equivalent");
        return File.TryView(Info, byteOffset, shape, type, SafetensorsDTypes.ElementSize(Info.DType)) ?? ReadRaw(byteOffset, shape);
    }

    /// <summary>Copies <c>numel(shape)</c> elements starting <paramref name="byteOffset"/> bytes into the tensor into a new CPU tensor of the file's dtype.</summary>
    public torch.Tensor ReadRaw(long byteOffset, long[] shape)
    {
        var type = SafetensorsDTypes.ToTorch(Info.DType)
            ?? throw new CheckpointException(File.Path, Info.Name, $"dtype {Info.DType} has no torch equivalent");
        var t = torch.empty(shape, type, torch.CPU);
        FillFrom(byteOffset, t);
        return t;
    }

    /// <summary>Fills the contiguous CPU tensor <paramref name="destination"/> with file bytes, straight into its storage.</summary>
    private void FillFrom(long byteOffset, torch.Tensor destination)
    {
        int elementSize = SafetensorsDTypes.ElementSize(Info.DType);
        long count = destination.numel();
        if (count == 0) return;
        using var flat = destination.view(-1);
        long chunk = Math.Max(1, MaxChunkBytes / elementSize);
        for (long start = 0; start < count; start += chunk)
        {
            long len = Math.Min(chunk, count - start);
            using var part = flat.narrow(0, start, len);
            File.Read(Info.Name, byteOffset + start * elementSize, part.bytes);
        }
    }

    /// <summary>
    /// Expert slices of a fused [E, a, b] tensor transposed to one [n, b, a] CPU tensor of <paramref name="dtype"/>
    /// (nn.Linear orientation), converted in parallel straight from the mapping: in one pass when the dtype is the file's
    /// or BF16 → F32; other conversions transpose in the file's dtype, then convert.
    /// </summary>
    public torch.Tensor ReadExpertSlicesTransposed(IReadOnlyList<int> expertIds, long a, long b, torch.ScalarType dtype)
    {
        var fileType = SafetensorsDTypes.ToTorch(Info.DType)!.Value;
        int size = SafetensorsDTypes.ElementSize(Info.DType);
        bool direct = fileType == dtype || (Info.DType == SafetensorsDType.BF16 && dtype == torch.ScalarType.Float32);
        var outType = direct ? dtype : fileType;
        var result = WeightBuffers.Empty([expertIds.Count, b, a], outType);
        long perExpertBytes = a * b * size;
        if (expertIds.Count > 0 && perExpertBytes > 0)
        {
            var (file, info) = (File, Info);
            var sources = expertIds.Select(e => file.Address(info, e * perExpertBytes, perExpertBytes)).ToArray();
            LayoutCopy.TransposeExperts(sources, checked((int)a), checked((int)b), size, direct ? (int)result.ElementSize : size,
                TensorData.Pointer(result), torch.get_num_threads());
        }
        if (direct) return result;
        using (result) return WeightBuffers.Empty(result.shape, dtype).copy_(result);
    }

    /// <summary>This FP8 [out, in] weight dequantised: W[o, :] = float(W_fp8[o, :]) · scale[o], in fp32 on the CPU (spec §3.2).</summary>
    public torch.Tensor DequantiseFp8(CheckpointTensor scale, string logicalName)
    {
        long rows = Info.Shape[0], cols = Info.Shape[1];
        var s = scale.Info;
        bool shapeOk = (s.Shape.Length == 1 && s.Shape[0] == rows) || (s.Shape.Length == 2 && s.Shape[0] == rows && s.Shape[1] == 1);
        if (!shapeOk)
        {
            throw new CheckpointException(scale.File.Path, s.Name,
                $"shape {s.ShapeText} is not a per-row scale for weight {Info.ShapeText}; expected [{rows}, 1] or [{rows}] (logical '{logicalName}')");
        }
        if (s.DType is not (SafetensorsDType.BF16 or SafetensorsDType.F32 or SafetensorsDType.F16))
        {
            throw new CheckpointException(scale.File.Path, s.Name,
                $"dtype {s.DType} is not supported for a weight_scale; expected BF16, F16 or F32 (logical '{logicalName}')");
        }
        var scales = new float[rows];
        FloatFormats.DecodeToSingle(s.DType, scale.File.ReadAll(s.Name), scales);

        var result = WeightBuffers.Empty([rows, cols], torch.ScalarType.Float32);
        if (rows * cols == 0) return result;
        nint source = File.Address(Info, 0, Info.ByteLength), destination = TensorData.Pointer(result);
        // Row blocks of about 1 MiB of FP8 bytes, dequantised in parallel straight from the mapping.
        long blockRows = Math.Clamp((1 << 20) / Math.Max(1, cols), 1, rows);
        long blocks = (rows + blockRows - 1) / blockRows;
        Parallel.For(0, blocks, new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, torch.get_num_threads()) }, block =>
        {
            long r0 = block * blockRows, r1 = Math.Min(rows, r0 + blockRows);
            for (long r = r0; r < r1; r++) DequantiseRow(source + (nint)(r * cols), destination + (nint)(r * cols * sizeof(float)), cols, scales[r]);
        });
        return result;
    }

    private static unsafe void DequantiseRow(nint source, nint destination, long cols, float scale)
    {
        var src = new ReadOnlySpan<byte>((void*)source, checked((int)cols));
        var dst = new Span<float>((void*)destination, checked((int)cols));
        FloatFormats.DecodeToSingle(SafetensorsDType.F8_E4M3, src, dst);
        for (int c = 0; c < dst.Length; c++) dst[c] *= scale;
    }
}
