using Llama4Cluster.Core.Config;
using Llama4Cluster.Core.Vision;
using Llama4Cluster.Kernels.Model;

namespace Llama4Cluster.Kernels.Vision;

/// <summary>
/// A rank's vision tower: the loaded <see cref="Llama4VisionModel"/> and what it takes (<see cref="Inputs"/>: the
/// <c>&lt;|patch|&gt;</c> id, tokens per tile, tile size). It runs where the prompt is embedded — the attention rank, or its
/// first stage — in one process and in the cluster alike.
/// </summary>
public sealed class VisionTower(Llama4VisionModel model, VisionInputs inputs) : IDisposable
{
    public Llama4VisionModel Model { get; } = model;

    public VisionInputs Inputs { get; } = inputs;

    /// <summary>
    /// The vision tower of the checkpoint in <paramref name="modelDirectory"/> from <paramref name="source"/>, in
    /// <paramref name="options"/>' dtype and device; null when its <c>config.json</c> has no <c>vision_config</c> (a text-only
    /// checkpoint).
    /// </summary>
    public static VisionTower? Load(string modelDirectory, IWeightSource source, ModelOptions options)
    {
        if (Llama4ConfigReader.LoadVision(modelDirectory) is not { } config) return null;
        var inputs = VisionInputs.Of(config, modelDirectory);
        if ((uint)inputs.PatchTokenId >= (uint)source.Config.VocabSize)
            throw new InvalidDataException($"{Path.Combine(modelDirectory, "config.json")}: image_token_index {inputs.PatchTokenId} is outside the vocabulary of {source.Config.VocabSize}");
        return new VisionTower(Llama4VisionModel.Load(source, config, options), inputs);
    }

    public void Dispose() => Model.Dispose();
}
