using Llama4Cluster.Core.Config;
using Llama4Cluster.Kernels.Checkpoints;
using Llama4Cluster.Kernels.Model;
using TorchSharp;

namespace Llama4Cluster.Kernels.Tests.Checkpoints;

/// <summary>
/// The reference for in-place loading: every tensor's bytes copied out of the file into a fresh tensor
/// (<see cref="SafetensorsFile.Read"/>), FP8 decoded and scaled row by row in C#, and the layout changes done with
/// plain torch ops (cat, stack, <c>transpose(1, 2).contiguous()</c>): the loader as it was before weights were
/// used in place. No view of a mapping reaches the model.
/// </summary>
internal sealed class CopiedWeights(CheckpointReader reader) : IWeightSource
{
    public Llama4TextConfig Config => reader.Config;

    public torch.Tensor Load(string name, long[] shape, torch.ScalarType dtype, torch.Device device)
    {
        using var raw = Raw(name);
        Assert.Equal(shape, raw.shape);
        return raw.to(dtype, device, copy: true);
    }

    public (torch.Tensor GateUp, torch.Tensor Down) LoadExperts(int layer, IReadOnlyList<int> experts, torch.ScalarType dtype, torch.Device device)
    {
        using var scope = torch.NewDisposeScope();
        using var index = torch.tensor(experts.Select(e => (long)e).ToArray(), torch.ScalarType.Int64);
        torch.Tensor gateUp, down;
        if (Find(CheckpointNames.FusedGateUp(layer)) is not null)
        {
            gateUp = Raw(CheckpointNames.FusedGateUp(layer)).index_select(0, index).transpose(1, 2).to(dtype).contiguous();
            down = Raw(CheckpointNames.FusedDown(layer)).index_select(0, index).transpose(1, 2).to(dtype).contiguous();
        }
        else
        {
            gateUp = torch.stack(experts.Select(e => torch.cat([
                Raw(CheckpointNames.ExpertWeight(layer, e, "gate_proj")).to(dtype),
                Raw(CheckpointNames.ExpertWeight(layer, e, "up_proj")).to(dtype)], 0)).ToArray(), 0);
            down = torch.stack(experts.Select(e => Raw(CheckpointNames.ExpertWeight(layer, e, "down_proj")).to(dtype)).ToArray(), 0);
        }
        return (gateUp.to(device).MoveToOuterDisposeScope(), down.to(device).MoveToOuterDisposeScope());
    }

    /// <summary>A fresh CPU copy of a tensor's values as stored (FP8 weights dequantised to fp32).</summary>
    private torch.Tensor Raw(string logical)
    {
        bool tied = logical == CheckpointNames.LmHead && Config.TieWordEmbeddings;
        var (file, info) = Find(logical) ?? (tied ? Find(CheckpointNames.EmbedTokens) : null)
            ?? throw new InvalidOperationException($"{logical} is not in the checkpoint");
        if (info.DType != SafetensorsDType.F8_E4M3)
        {
            var t = torch.empty(info.Shape, SafetensorsDTypes.ToTorch(info.DType)!.Value);
            if (info.ByteLength > 0) file.Read(info.Name, 0, t.bytes);
            return t;
        }
        var (scaleFile, scaleInfo) = Find(CheckpointNames.ScaleOf(logical))!.Value;
        long rows = info.Shape[0], cols = info.Shape[1];
        var scales = new float[rows];
        FloatFormats.DecodeToSingle(scaleInfo.DType, scaleFile.ReadAll(scaleInfo.Name), scales);
        var values = new float[rows * cols];
        FloatFormats.DecodeToSingle(SafetensorsDType.F8_E4M3, file.ReadAll(info.Name), values);
        for (long r = 0; r < rows; r++)
            for (long c = 0; c < cols; c++) values[r * cols + c] *= scales[r];
        return torch.tensor(values, [rows, cols]);
    }

    private (SafetensorsFile File, SafetensorsTensorInfo Info)? Find(string logical)
    {
        foreach (var file in reader.Files)
            foreach (var info in file.Tensors.Values)
                if (CheckpointNames.ToLogical(info.Name) == logical) return (file, info);
        return null;
    }
}
