using Llama4Cluster.Core.Generation;
using Llama4Cluster.Kernels.Engine;
using Llama4Cluster.Core.Sampling;
using Llama4Cluster.Core.Tokenization;
using Llama4Cluster.Core.Vision;

namespace Llama4Cluster.Cli.Engines;

/// <summary>
/// What <c>generate</c> and <c>logits</c> run on: <see cref="LocalEngine"/> in this process (<c>--engine local</c>)
/// or an ephemeral local cluster (<c>--engine cluster</c>). Both give the same results and the same output shape.
/// </summary>
internal interface ICliEngine : IDisposable
{
    Llama4Tokenizer? Tokenizer { get; }

    /// <summary>Seconds until the engine could serve: weight loading (and, for a cluster, starting it).</summary>
    double LoadSeconds { get; }

    GenerationTimings? LastTimings { get; }

    /// <summary>Compiles the generation path before the first request (<see cref="LocalEngine.WarmUp"/>); returns the
    /// seconds it took, 0 where the engine does not warm up.</summary>
    double WarmUp();

    Task<IReadOnlyList<GenerationResult>> GenerateAsync(IReadOnlyList<GenerationRequest> requests, Action<int, SampledToken>? onToken = null);

    /// <summary>fp32 logits of every position; <paramref name="images"/> fill the prompt's <c>&lt;|patch|&gt;</c> positions.</summary>
    float[][] Logits(IReadOnlyList<int> tokens, IReadOnlyList<ImageTiles>? images = null);

    /// <summary>The image input the model takes; null when it has no vision tower.</summary>
    VisionInputs? Vision { get; }
}

/// <summary><c>--engine local</c>: the in-process <see cref="LocalEngine"/>.</summary>
internal sealed class LocalCliEngine(LocalEngine engine) : ICliEngine
{
    public LocalEngine Engine { get; } = engine;

    public Llama4Tokenizer? Tokenizer => Engine.Tokenizer;

    public double LoadSeconds => Engine.LoadSeconds;

    public GenerationTimings? LastTimings => Engine.LastTimings;

    public double WarmUp() => Engine.WarmUp();

    public Task<IReadOnlyList<GenerationResult>> GenerateAsync(IReadOnlyList<GenerationRequest> requests, Action<int, SampledToken>? onToken = null) =>
        Engine.GenerateAsync(requests, onToken);

    public float[][] Logits(IReadOnlyList<int> tokens, IReadOnlyList<ImageTiles>? images = null) => Engine.Logits(tokens, images);

    public VisionInputs? Vision => Engine.Vision?.Inputs;

    public void Dispose() => Engine.Dispose();
}
