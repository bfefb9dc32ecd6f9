using Llama4Cluster.Kernels.Checkpoints;
using Llama4Cluster.Core.Config;

namespace Llama4Cluster.Kernels.Tests.Checkpoints;

/// <summary>
/// The text tensor list of spec §3.1 (and §3.2 for FP8 experts), written out independently of the code under test:
/// logical name → shape. The on-disk names add <c>language_model.</c> for ConditionalGeneration checkpoints.
/// </summary>
internal static class SpecTensorNames
{
    public static Dictionary<string, long[]> Expected(Llama4TextConfig c, ExpertStorage experts, bool withScaleColumn = true)
    {
        long d = c.HiddenSize, f = c.IntermediateSize, fm = c.IntermediateSizeMlp, e = c.NumLocalExperts;
        long q = c.NumAttentionHeads * (long)c.HeadDim, kv = c.NumKeyValueHeads * (long)c.HeadDim;
        var names = new Dictionary<string, long[]>
        {
            ["model.embed_tokens.weight"] = [c.VocabSize, d],
            ["model.norm.weight"] = [d],
            ["lm_head.weight"] = [c.VocabSize, d],
        };
        for (int i = 0; i < c.NumHiddenLayers; i++)
        {
            string p = $"model.layers.{i}.";
            names[p + "input_layernorm.weight"] = [d];
            names[p + "self_attn.q_proj.weight"] = [q, d];
            names[p + "self_attn.k_proj.weight"] = [kv, d];
            names[p + "self_attn.v_proj.weight"] = [kv, d];
            names[p + "self_attn.o_proj.weight"] = [d, q];
            names[p + "post_attention_layernorm.weight"] = [d];
            if (c.MoeLayers[i])
            {
                names[p + "feed_forward.router.weight"] = [e, d];
                names[p + "feed_forward.shared_expert.gate_proj.weight"] = [f, d];
                names[p + "feed_forward.shared_expert.up_proj.weight"] = [f, d];
                names[p + "feed_forward.shared_expert.down_proj.weight"] = [d, f];
                if (experts == ExpertStorage.Fused)
                {
                    names[p + "feed_forward.experts.gate_up_proj"] = [e, d, 2 * f];
                    names[p + "feed_forward.experts.down_proj"] = [e, f, d];
                }
                else
                {
                    for (int x = 0; x < e; x++)
                    {
                        string ep = $"{p}feed_forward.experts.{x}.";
                        names[ep + "gate_proj.weight"] = [f, d];
                        names[ep + "up_proj.weight"] = [f, d];
                        names[ep + "down_proj.weight"] = [d, f];
                        if (experts == ExpertStorage.PerExpertFp8)
                        {
                            names[ep + "gate_proj.weight_scale"] = withScaleColumn ? [f, 1] : [f];
                            names[ep + "up_proj.weight_scale"] = withScaleColumn ? [f, 1] : [f];
                            names[ep + "down_proj.weight_scale"] = withScaleColumn ? [d, 1] : [d];
                        }
                    }
                }
            }
            else
            {
                names[p + "feed_forward.gate_proj.weight"] = [fm, d];
                names[p + "feed_forward.up_proj.weight"] = [fm, d];
                names[p + "feed_forward.down_proj.weight"] = [d, fm];
            }
        }
        return names;
    }

    /// <summary>Loads every tensor the way a model would (one explicit map, experts through LoadExperts).</summary>
    public static void LoadEverything(CheckpointReader reader, ExpertStorage experts)
    {
        var c = reader.Config;
        foreach (var (name, shape) in Expected(c, experts))
        {
            if (name.Contains(".experts.", StringComparison.Ordinal)) continue;
            using var t = reader.Load(name, shape, TorchSharp.torch.ScalarType.Float32, TorchSharp.torch.CPU);
        }
        for (int i = 0; i < c.NumHiddenLayers; i++)
        {
            if (!c.MoeLayers[i]) continue;
            using var w = reader.LoadExperts(i, Enumerable.Range(0, c.NumLocalExperts).ToArray(), TorchSharp.torch.ScalarType.Float32, TorchSharp.torch.CPU);
        }
    }
}
