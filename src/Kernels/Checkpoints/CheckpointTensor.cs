using System.Runtime.InteropServices;
using TorchSharp;

namespace Llama4Cluster.Kernels.Checkpoints;

/// <summary>
/// One tensor of a checkpoint as found in its mapped safetensors file, with the reads that copy its
/// bytes into CPU tensors: whole, as expert slices of a fused [E, a, b] tensor (only those bytes are
/// read), or dequantised from FP8. <see cref="CheckpointReader"/> decides what to read; this type
/// knows how the bytes are laid out.
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
    /// Reads expert slices of a fused [E, a, b] tensor into one [n, a, b] CPU tensor of the file's dtype. Expert e is the
    /// contiguous range [e·a·b·size, (e+1)·a·b·size): only those bytes are read.
    /// </summary>
    public torch.Tensor ReadExpertSlices(IReadOnlyList<int> expertIds, long[] perExpertShape)
    {
        var type = SafetensorsDTypes.ToTorch(Info.DType)!.Value;
        long perExpertBytes = Info.ByteLength / Info.Shape[0];
        var all = torch.empty([expertIds.Count, .. perExpertShape], type, torch.CPU);
        for (int i = 0; i < expertIds.Count; i++)
        {
            using var slot = all[i];
            FillFrom(expertIds[i] * perExpertBytes, slot);
        }
        return all;
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

        var result = torch.empty([rows, cols], torch.ScalarType.Float32, torch.CPU);
        // Row blocks of about 1 MiB of FP8 bytes keep the staging buffer small for 8192 × 5120 weights.
        int blockRows = (int)Math.Clamp((1 << 20) / Math.Max(1, cols), 1, rows);
        var staging = new byte[blockRows * cols];
        for (long r0 = 0; r0 < rows; r0 += blockRows)
        {
            int nRows = (int)Math.Min(blockRows, rows - r0);
            var src = staging.AsSpan(0, (int)(nRows * cols));
            File.Read(Info.Name, r0 * cols, src);
            using var block = result.narrow(0, r0, nRows);
            var dst = MemoryMarshal.Cast<byte, float>(block.bytes);
            FloatFormats.DecodeToSingle(SafetensorsDType.F8_E4M3, src, dst);
            for (int r = 0; r < nRows; r++)
            {
                float k = scales[r0 + r];
                var row = dst.Slice((int)(r * cols), (int)cols);
                for (int c = 0; c < row.Length; c++) row[c] *= k;
            }
        }
        return result;
    }
}
