namespace Llama4Cluster.Kernels.Checkpoints;

/// <summary>How text tensor names are spelled on disk (spec §3.1).</summary>
public enum CheckpointNameLayout
{
    /// <summary><c>Llama4ForConditionalGeneration</c>: <c>language_model.model.*</c> and <c>language_model.lm_head.weight</c>.</summary>
    ConditionalGeneration,

    /// <summary>Text-only <c>Llama4ForCausalLM</c>: <c>model.*</c> and <c>lm_head.weight</c>.</summary>
    CausalLm,
}
