using TorchSharp;

namespace Llama4Cluster.Kernels.Checkpoints;

/// <summary>Routed experts of a MoE layer: which tensors hold them (fused or per expert) and loading a subset of them.</summary>
public sealed partial class CheckpointReader
{
    /// <summary>
    /// Loads routed experts <paramref name="expertIds"/> (in that order) of MoE layer <paramref name="layer"/> in nn.Linear
    /// orientation. Reads only those experts' bytes: expert e of a fused tensor is one contiguous range, and per-expert
    /// tensors are separate entries.
    /// </summary>
    public ExpertWeights LoadExperts(int layer, IReadOnlyList<int> expertIds, torch.ScalarType dtype, torch.Device device)
    {
        ArgumentNullException.ThrowIfNull(expertIds);
        var plan = PlanExperts(layer, expertIds);
        long d = Config.HiddenSize, f = Config.IntermediateSize;
        int n = expertIds.Count;

        using var scope = torch.NewDisposeScope();
        torch.Tensor gateUp, down;
        if (plan.Fused is { } fused)
        {
            // gate_up_proj[e] is [D, 2F] (z · W); nn.Linear wants [2F, D]: transpose each expert. Gate = first F columns.
            gateUp = fused.GateUp.ReadExpertSlicesTransposed(expertIds, d, 2 * f, dtype);
            down = fused.Down.ReadExpertSlicesTransposed(expertIds, f, d, dtype);
            MarkConsumed(CheckpointNames.FusedGateUp(layer));
            MarkConsumed(CheckpointNames.FusedDown(layer));
        }
        else
        {
            // Each expert's weights are copied (and converted) straight from the mapping into its slot.
            gateUp = WeightBuffers.Empty([n, 2 * f, d], dtype);
            down = WeightBuffers.Empty([n, d, f], dtype);
            for (int i = 0; i < n; i++)
            {
                using var inner = torch.NewDisposeScope();
                var p = plan.PerExpert![i];
                var slot = gateUp[i];
                slot.narrow(0, 0, f).copy_(ReadStored(p.Gate, p.GateName));
                slot.narrow(0, f, f).copy_(ReadStored(p.Up, p.UpName));
                down[i].copy_(ReadStored(p.Down, p.DownName));
            }
        }
        if (device.type != DeviceType.CPU)
        {
            gateUp = gateUp.to(device);
            down = down.to(device);
        }
        return new ExpertWeights(expertIds, gateUp, down);
    }

    /// <summary>The bytes <see cref="LoadExperts"/> reads for these experts: their slices or tensors, plus FP8 scales.</summary>
    public long ExpertBytesOnDisk(int layer, IReadOnlyList<int> expertIds)
    {
        ArgumentNullException.ThrowIfNull(expertIds);
        var plan = PlanExperts(layer, expertIds);
        if (plan.Fused is { } fused)
        {
            long e = Config.NumLocalExperts;
            return expertIds.Count * (fused.GateUp.Info.ByteLength / e + fused.Down.Info.ByteLength / e);
        }
        long total = 0;
        foreach (var p in plan.PerExpert!)
        {
            foreach (var (at, name) in new[] { (p.Gate, p.GateName), (p.Up, p.UpName), (p.Down, p.DownName) })
            {
                total += at.Info.ByteLength;
                if (at.Info.DType == SafetensorsDType.F8_E4M3 && TryLocate(CheckpointNames.ScaleOf(name), out var scale))
                    total += scale.Info.ByteLength;
            }
        }
        return total;
    }

    private ExpertPlan PlanExperts(int layer, IReadOnlyList<int> expertIds)
    {
        if (layer < 0 || layer >= Config.NumHiddenLayers)
            throw new ArgumentOutOfRangeException(nameof(layer), layer, $"the model has {Config.NumHiddenLayers} layers");
        if (!Config.IsMoeLayer(layer))
            throw new ArgumentException($"layer {layer} is a dense layer; it has no routed experts", nameof(layer));
        foreach (int e in expertIds)
        {
            if (e < 0 || e >= Config.NumLocalExperts)
                throw new ArgumentOutOfRangeException(nameof(expertIds), e, $"expert ids must be in 0..{Config.NumLocalExperts - 1}");
        }
        long E = Config.NumLocalExperts, d = Config.HiddenSize, f = Config.IntermediateSize;

        string gateUpName = CheckpointNames.FusedGateUp(layer), downName = CheckpointNames.FusedDown(layer);
        if (TryLocate(gateUpName, out var gu))
        {
            var dn = Locate(downName);
            gu.CheckShape(gateUpName, [E, d, 2 * f]);
            dn.CheckShape(downName, [E, f, d]);
            foreach (var (at, name) in new[] { (gu, gateUpName), (dn, downName) })
            {
                if (!SafetensorsDTypes.IsPlainFloat(at.Info.DType))
                {
                    throw new CheckpointException(at.File.Path, at.Info.Name,
                        $"dtype {at.Info.DType} is not supported for fused experts (logical '{name}'); expected BF16, F16, F32 or F64");
                }
            }
            return new ExpertPlan(new FusedExperts(gu, dn), null);
        }
        string probe = CheckpointNames.ExpertWeight(layer, expertIds.Count > 0 ? expertIds[0] : 0, "gate_proj");
        if (!Contains(probe))
        {
            throw new CheckpointException(_describedFile, gateUpName,
                $"missing from the checkpoint, and so is the per-expert layout ('{probe}'): MoE layer {layer} has no routed experts");
        }
        var perExpert = new PerExpertTensors[expertIds.Count];
        for (int i = 0; i < expertIds.Count; i++)
        {
            int e = expertIds[i];
            string g = CheckpointNames.ExpertWeight(layer, e, "gate_proj"), u = CheckpointNames.ExpertWeight(layer, e, "up_proj"),
                dw = CheckpointNames.ExpertWeight(layer, e, "down_proj");
            var (ga, ua, da) = (Locate(g), Locate(u), Locate(dw));
            ga.CheckShape(g, [f, d]);
            ua.CheckShape(u, [f, d]);
            da.CheckShape(dw, [d, f]);
            perExpert[i] = new PerExpertTensors(ga, g, ua, u, da, dw);
        }
        return new ExpertPlan(null, perExpert);
    }

    private sealed record FusedExperts(CheckpointTensor GateUp, CheckpointTensor Down);

    private sealed record PerExpertTensors(CheckpointTensor Gate, string GateName, CheckpointTensor Up, string UpName, CheckpointTensor Down, string DownName);

    private sealed record ExpertPlan(FusedExperts? Fused, PerExpertTensors[]? PerExpert);
}
