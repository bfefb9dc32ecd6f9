namespace Llama4Cluster.Kernels.Checkpoints;

/// <summary>
/// The one explicit name map between logical text tensor names (the <c>Llama4ForCausalLM</c> spelling:
/// <c>model.*</c>, <c>lm_head.weight</c>) and the on-disk names of either layout (spec §3.1).
/// </summary>
public static class CheckpointNames
{
    /// <summary>Prefix of text tensors in a <c>Llama4ForConditionalGeneration</c> checkpoint.</summary>
    public const string ConditionalGenerationPrefix = "language_model.";

    public const string EmbedTokens = "model.embed_tokens.weight";
    public const string FinalNorm = "model.norm.weight";
    public const string LmHead = "lm_head.weight";

    /// <summary><c>model.layers.{layer}.{suffix}</c>.</summary>
    public static string Layer(int layer, string suffix) => $"model.layers.{layer}.{suffix}";

    /// <summary>Fused routed experts [E, D, 2F] (no <c>.weight</c> suffix).</summary>
    public static string FusedGateUp(int layer) => Layer(layer, "feed_forward.experts.gate_up_proj");

    /// <summary>Fused routed experts [E, F, D] (no <c>.weight</c> suffix).</summary>
    public static string FusedDown(int layer) => Layer(layer, "feed_forward.experts.down_proj");

    /// <summary>One expert's projection, <paramref name="projection"/> = gate_proj, up_proj or down_proj.</summary>
    public static string ExpertWeight(int layer, int expert, string projection) =>
        Layer(layer, $"feed_forward.experts.{expert}.{projection}.weight");

    /// <summary>The compressed-tensors companion of an FP8 weight: <c>X.weight</c> → <c>X.weight_scale</c>.</summary>
    public static string ScaleOf(string weightName) => weightName + "_scale";

    /// <summary>Logical name of an on-disk name: strips <c>language_model.</c>; other names (vision) are unchanged.</summary>
    public static string ToLogical(string onDiskName) =>
        onDiskName.StartsWith(ConditionalGenerationPrefix, StringComparison.Ordinal)
            ? onDiskName[ConditionalGenerationPrefix.Length..]
            : onDiskName;

    /// <summary>On-disk name of a logical text name in <paramref name="layout"/>.</summary>
    public static string ToOnDisk(string logicalName, CheckpointNameLayout layout) =>
        layout == CheckpointNameLayout.ConditionalGeneration ? ConditionalGenerationPrefix + logicalName : logicalName;
}
