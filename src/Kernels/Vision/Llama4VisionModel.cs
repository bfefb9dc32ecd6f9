using Llama4Cluster.Core.Config;
using Llama4Cluster.Core.Vision;
using Llama4Cluster.Kernels.Model;
using static TorchSharp.torch;

namespace Llama4Cluster.Kernels.Vision;

/// <summary>
/// The vision path of spec §5.2: encoder, pixel shuffle, adapter and projector, batched over tiles. Its output rows
/// replace the <c>&lt;|patch|&gt;</c> embeddings of a prompt (spec §5.4).
/// </summary>
public sealed class Llama4VisionModel : IDisposable
{
    private Llama4VisionModel(Llama4VisionConfig config) => Config = config;

    public Llama4VisionConfig Config { get; }

    /// <summary>Loads the vision tower and projector from <paramref name="source"/> (names as spec §5.3) in the options' dtype
    /// and device; the projector maps into <c>source.Config.HiddenSize</c>.</summary>
    public static Llama4VisionModel Load(IWeightSource source, Llama4VisionConfig config, ModelOptions options) =>
        throw new NotImplementedException("the vision encoder is being built");

    /// <summary>Features of every tile of <paramref name="images"/> in order (each image's canvas tiles, then its global tile):
    /// <c>[Σ TileCount · TokensPerTile, text hidden]</c> in the compute dtype on the model's device. The caller owns it.</summary>
    public Tensor Encode(IReadOnlyList<ImageTiles> images) => throw new NotImplementedException("the vision encoder is being built");

    public void Dispose()
    {
    }
}
