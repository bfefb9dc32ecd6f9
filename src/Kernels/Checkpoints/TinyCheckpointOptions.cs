using Llama4Cluster.Core.Config;

namespace Llama4Cluster.Kernels.Checkpoints;

/// <summary>What <see cref="TinyCheckpointWriter"/> writes. The numbers depend only on <see cref="Seed"/> and the config,
/// so every combination of the other options stores the same weights (up to the dtype's rounding).</summary>
public sealed record TinyCheckpointOptions
{
    public int Seed { get; init; }

    /// <summary>Element type of every non-FP8 tensor: BF16 (as published), F16 or F32.</summary>
    public SafetensorsDType DType { get; init; } = SafetensorsDType.BF16;

    public CheckpointNameLayout Layout { get; init; } = CheckpointNameLayout.ConditionalGeneration;

    /// <summary>1 writes <c>model.safetensors</c>; more writes that many shards plus <c>model.safetensors.index.json</c>.</summary>
    public int Shards { get; init; } = 1;

    public ExpertStorage Experts { get; init; } = ExpertStorage.Fused;

    /// <summary>Element type of FP8 <c>weight_scale</c> tensors (the real checkpoint's is unverified: BF16 or F32).</summary>
    public SafetensorsDType Fp8ScaleDType { get; init; } = SafetensorsDType.BF16;

    /// <summary>True writes scales as [out, 1] (the expected compressed-tensors shape), false as [out].</summary>
    public bool Fp8ScaleAsColumn { get; init; } = true;

    /// <summary>A vision tower to write (spec §5.3 tensors and <c>vision_config</c>; conditional-generation layout only), or
    /// null for a text-only checkpoint. Its numbers come from a random stream of their own, so the text weights are the
    /// same with or without it.</summary>
    public Llama4VisionConfig? Vision { get; init; }

    /// <summary>Spell the vision tensors <c>model.vision_model.*</c> and <c>model.multi_modal_projector.*</c> (newer
    /// transformers releases) instead of spec §5.3's <c>vision_model.*</c> and <c>multi_modal_projector.*</c>.</summary>
    public bool VisionNamesUnderModel { get; init; }
}
