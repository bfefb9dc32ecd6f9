namespace Llama4Cluster.Core.Config;

/// <summary>
/// Built-in configurations: the published Scout and Maverick text configs (spec §1.2), an
/// INFERRED Behemoth-scale estimate for capacity planning (spec §1.5), and the tiny test
/// configs (spec §6).
/// </summary>
public static class Llama4Presets
{
    public static IReadOnlyList<string> Names { get; } = ["scout", "maverick", "behemoth", "tiny-scout", "tiny-maverick", "tiny-behemoth", "bench-0.8b", "bench-0.7b"];

    public static Llama4TextConfig Get(string name) => name.ToLowerInvariant() switch
    {
        "scout" => Scout,
        "maverick" => Maverick,
        "behemoth" => BehemothEstimate,
        "tiny-scout" => TinyScout,
        "tiny-maverick" => TinyMaverick,
        "tiny-behemoth" => TinyBehemoth,
        "bench-0.8b" => Bench08B,
        "bench-0.7b" => Bench07B,
        _ => throw new ArgumentException($"unknown preset '{name}'; known presets: {string.Join(", ", Names)}", nameof(name)),
    };

    private static bool[] Every(int layers, Func<int, bool> f) => Enumerable.Range(0, layers).Select(f).ToArray();

    /// <summary>Llama-4-Scout-17B-16E(-Instruct), with the corrected 16/1/1 RoPE scaling.</summary>
    public static Llama4TextConfig Scout { get; } = new()
    {
        VocabSize = 202048, HiddenSize = 5120, IntermediateSize = 8192, IntermediateSizeMlp = 16384,
        NumHiddenLayers = 48, NumAttentionHeads = 40, NumKeyValueHeads = 8, HeadDim = 128,
        NumLocalExperts = 16, NumExpertsPerToken = 1,
        MoeLayers = Every(48, _ => true), RopeLayers = Every(48, i => (i + 1) % 4 != 0),
        RopeTheta = 500000.0, RopeScaling = new RopeScaling(16.0, 1.0, 1.0, 8192),
        AttentionChunkSize = 8192, AttnTemperatureTuning = true, FloorScale = 8192, AttnScale = 0.1,
        UseQkNorm = true, RmsNormEps = 1e-5,
        BosTokenId = 200000, EosTokenIds = [200001, 200007, 200008], PadTokenId = 200018,
        MaxPositionEmbeddings = 10485760,
    };

    /// <summary>Llama-4-Maverick-17B-128E(-Instruct): MoE on odd layers, no QK norm, plain RoPE.</summary>
    public static Llama4TextConfig Maverick { get; } = Scout with
    {
        NumLocalExperts = 128,
        MoeLayers = Every(48, i => i % 2 == 1),
        RopeScaling = null,
        UseQkNorm = false,
        MaxPositionEmbeddings = 1048576,
    };

    /// <summary>
    /// INFERRED Behemoth-scale configuration (spec §1.5): no config was ever published. D = 16384,
    /// 88 layers, 16 experts top-1 + shared, F = 26624: ≈ 287B active, ≈ 2.0T total parameters.
    /// For capacity planning and scale tests only.
    /// </summary>
    public static Llama4TextConfig BehemothEstimate { get; } = Scout with
    {
        HiddenSize = 16384, IntermediateSize = 26624, IntermediateSizeMlp = 53248,
        NumHiddenLayers = 88, NumAttentionHeads = 128, NumKeyValueHeads = 8, HeadDim = 128,
        MoeLayers = Every(88, _ => true), RopeLayers = Every(88, i => (i + 1) % 4 != 0),
    };

    /// <summary>Spec §6.1 tiny-scout: 16 experts top-1, every layer MoE, QK norm, chunk 4, floor scale 2.</summary>
    public static Llama4TextConfig TinyScout { get; } = new()
    {
        VocabSize = 512, HiddenSize = 64, IntermediateSize = 32, IntermediateSizeMlp = 64,
        NumHiddenLayers = 4, NumAttentionHeads = 4, NumKeyValueHeads = 2, HeadDim = 16,
        NumLocalExperts = 16, NumExpertsPerToken = 1,
        MoeLayers = [true, true, true, true], RopeLayers = [true, true, true, false],
        RopeTheta = 10000.0, RopeScaling = new RopeScaling(16.0, 1.0, 1.0, 64),
        AttentionChunkSize = 4, AttnTemperatureTuning = true, FloorScale = 2, AttnScale = 0.1,
        UseQkNorm = true, RmsNormEps = 1e-5,
        BosTokenId = 1, EosTokenIds = [2], PadTokenId = 0, MaxPositionEmbeddings = 256,
    };

    /// <summary>
    /// The shape of the peer measurement in docs/PERFORMANCE.md (llama.cpp on a random bf16 Llama 4 MoE of
    /// 0.76 B parameters): hidden 2048, 8 layers, 16 heads / 8 KV heads, head_dim 128, 16 experts top-1
    /// + shared expert of width 1024, dense width 4096, MoE every other layer, vocab 32000. For
    /// side-by-side speed runs with random weights; not a published model.
    /// </summary>
    public static Llama4TextConfig Bench08B { get; } = Maverick with
    {
        VocabSize = 32000, HiddenSize = 2048, IntermediateSize = 1024, IntermediateSizeMlp = 4096,
        NumHiddenLayers = 8, NumAttentionHeads = 16, NumKeyValueHeads = 8, HeadDim = 128,
        NumLocalExperts = 16, NumExpertsPerToken = 1,
        MoeLayers = Every(8, i => i % 2 == 1), RopeLayers = Every(8, i => (i + 1) % 4 != 0),
        BosTokenId = 1, EosTokenIds = [2], PadTokenId = 0, MaxPositionEmbeddings = 131072,
    };

    /// <summary>
    /// <see cref="Bench08B"/> with a 512-id vocabulary, so <c>create-tiny</c> writes the tiny tokenizer beside it and the
    /// gateway can serve it with text (serving benchmarks: <c>llama4 bench serve</c>). 0.66 B parameters; the per-token
    /// work differs from bench-0.8b only in the embedding lookup and the much smaller lm_head.
    /// </summary>
    public static Llama4TextConfig Bench07B { get; } = Bench08B with { VocabSize = 512 };

    /// <summary>Spec §6.2 tiny-maverick: 128 experts top-2, dense/MoE interleaved, chunk 3, no QK norm.</summary>
    public static Llama4TextConfig TinyMaverick { get; } = new()
    {
        VocabSize = 512, HiddenSize = 48, IntermediateSize = 32, IntermediateSizeMlp = 96,
        NumHiddenLayers = 4, NumAttentionHeads = 6, NumKeyValueHeads = 2, HeadDim = 8,
        NumLocalExperts = 128, NumExpertsPerToken = 2,
        MoeLayers = [false, true, false, true], RopeLayers = [true, true, false, false],
        RopeTheta = 500000.0, RopeScaling = null,
        AttentionChunkSize = 3, AttnTemperatureTuning = true, FloorScale = 3, AttnScale = 0.25,
        UseQkNorm = false, RmsNormEps = 1e-5,
        BosTokenId = 1, EosTokenIds = [2], PadTokenId = 0, MaxPositionEmbeddings = 256,
    };

    /// <summary>
    /// The structure of <see cref="BehemothEstimate"/> (spec §1.5) at test size: every layer MoE with 16 routed experts,
    /// top-1, plus a shared expert; chunked RoPE attention with every 4th layer NoPE (global); QK norm; temperature
    /// tuning; 16 query heads per KV head (128 / 8); 8 layers, so 2 to 4 pipeline stages each hold chunked layers and
    /// the 4-stage split puts one NoPE layer on every other stage.
    /// </summary>
    public static Llama4TextConfig TinyBehemoth { get; } = TinyScout with
    {
        HiddenSize = 64, IntermediateSize = 32, IntermediateSizeMlp = 64,
        NumHiddenLayers = 8, NumAttentionHeads = 16, NumKeyValueHeads = 1, HeadDim = 4,
        NumLocalExperts = 16, NumExpertsPerToken = 1,
        MoeLayers = Every(8, _ => true), RopeLayers = Every(8, i => (i + 1) % 4 != 0),
    };
}
