using Llama4Cluster.Core.Config;
using Llama4Cluster.Core.Scheduling;
using Llama4Cluster.Core.Tokenization;
using Llama4Cluster.Core.Vision;

namespace Llama4Cluster.Gateway.Model;

/// <summary>
/// The model the gateway serves, as the HTTP layer needs it: the name clients send in <c>model</c>, the checkpoint's
/// config, its tokenizer (the gateway tokenizes and detokenizes; the cluster sees token ids only) and its limits.
/// </summary>
/// <param name="Id">The model name of <c>GET /v1/models</c> and of the <c>model</c> field (by default the checkpoint
/// directory's name).</param>
/// <param name="Directory">The checkpoint directory.</param>
/// <param name="Config">The checkpoint's text config.</param>
/// <param name="Tokenizer">The checkpoint's tokenizer.</param>
/// <param name="MaxModelLength">Longest prompt + completion in tokens (the config's max_position_embeddings, or a
/// smaller --max-model-len).</param>
/// <param name="EosTokenIds">Ids that end a sequence: the config's EOS ids and the tokenizer's stop tokens.</param>
/// <param name="Created">Unix seconds when the gateway started serving it (<c>created</c> of /v1/models).</param>
public sealed record ServedModel(
    string Id,
    string Directory,
    Llama4TextConfig Config,
    Llama4Tokenizer Tokenizer,
    int MaxModelLength,
    IReadOnlyList<int> EosTokenIds,
    long Created)
{
    /// <summary>The image input the checkpoint's vision tower takes; null for a text-only checkpoint (image parts get a 400).</summary>
    public VisionInputs? Vision { get; init; }

    /// <summary>What requests are checked against in the scheduler: vocabulary, <see cref="MaxModelLength"/>, EOS ids, images.</summary>
    public ModelLimits Limits => new(Config.VocabSize, MaxModelLength, EosTokenIds, Vision);
}
