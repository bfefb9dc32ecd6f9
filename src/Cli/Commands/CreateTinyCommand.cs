using Llama4Cluster.Cli.Ui;
using Llama4Cluster.Kernels.Checkpoints;
using Llama4Cluster.Core.Config;
using Llama4Cluster.Core.Tokenization;
using Llama4Cluster.Cluster.Hosting;

namespace Llama4Cluster.Cli.Commands;

/// <summary>
/// <c>create-tiny --preset tiny-scout|tiny-maverick|tiny-behemoth --out DIR [--seed N] [--dtype bfloat16|float32|fp8]
/// [--layout conditional|causal] [--shards N] [--experts fused|per-expert] [--no-vision]</c>: writes a tiny random
/// checkpoint in the exact Hugging Face layout (config.json, safetensors, tokenizer files). The tiny presets in the
/// conditional-generation layout get the tiny vision tower (<see cref="Llama4VisionConfig.Tiny"/>: 56-pixel tiles of
/// 14-pixel patches, 4 tokens per tile) unless <c>--no-vision</c>; its weights do not change the text weights.
/// </summary>
internal static class CreateTinyCommand
{
    public const string Usage = "create-tiny --preset tiny-scout|tiny-maverick|tiny-behemoth|bench-0.8b|bench-0.7b --out DIR [--seed N] [--dtype bfloat16|float32|fp8] [--layout conditional|causal] [--shards N] [--experts fused|per-expert] [--top-k K] [--no-vision]";

    /// <summary>What <c>--help</c> says the command does, under the usage line.</summary>
    public const string Summary =
        "Write a small random checkpoint in the exact Hugging Face layout (config.json, safetensors, tokenizer) for tests, demos and benchmarks.";

    /// <summary>Every option the command takes (System.CommandLine parses the line against these).</summary>
    public static readonly IReadOnlyList<CommandLineOption> Options =
    [
        new("preset", "NAME", "tiny-scout, tiny-maverick, tiny-behemoth (test shapes), bench-0.8b or bench-0.7b (benchmark shapes)"),
        new("out", "DIR", "directory to write"),
        new("seed", "N", "seed of the random weights (default 0)"),
        new("dtype", "bfloat16|float32|fp8", "tensor dtype (also bf16, fp32; fp8: routed experts in FP8 with per-row scales; default bfloat16)"),
        new("layout", "conditional|causal", "tensor names of Llama4ForConditionalGeneration (default) or Llama4ForCausalLM"),
        new("shards", "N", "safetensors files to split the weights over, with an index (default 1)"),
        new("experts", "fused|per-expert", "routed experts as the fused tensors of the HF layout (default) or one tensor per expert"),
        new("top-k", "K", "experts per token (default: the preset's)"),
        CommandLineOption.Switch("no-vision", "leave out the vision tower and vision_config"),
    ];

    public static int Run(Arguments a)
    {
        string preset = a.Required("preset");
        if (preset is not ("tiny-scout" or "tiny-maverick" or "tiny-behemoth" or "bench-0.8b" or "bench-0.7b"))
            throw new UsageException($"--preset must be tiny-scout, tiny-maverick, tiny-behemoth, bench-0.8b or bench-0.7b; got '{preset}'");
        string output = a.Required("out");
        int seed = a.Int("seed") ?? 0;
        string dtype = a.Optional("dtype") ?? "bf16";
        var layout = (a.Optional("layout") ?? "conditional") switch
        {
            "conditional" => CheckpointNameLayout.ConditionalGeneration,
            "causal" => CheckpointNameLayout.CausalLm,
            var s => throw new UsageException($"--layout must be conditional or causal; got '{s}'"),
        };
        int shards = a.Int("shards", 1, 64) ?? 1;
        var experts = (a.Optional("experts") ?? "fused") switch
        {
            "fused" => ExpertStorage.Fused,
            "per-expert" => ExpertStorage.PerExpert,
            var s => throw new UsageException($"--experts must be fused or per-expert; got '{s}'"),
        };
        var (tensorDType, expertStorage) = dtype switch
        {
            "bf16" or "bfloat16" => (SafetensorsDType.BF16, experts),
            "f32" or "fp32" or "float32" => (SafetensorsDType.F32, experts),
            "fp8" => (SafetensorsDType.BF16, ExpertStorage.PerExpertFp8),
            _ => throw new UsageException($"--dtype must be bfloat16, float32 or fp8 (bf16 and fp32 are accepted too); got '{dtype}'"),
        };
        var config = Llama4Presets.Get(preset);
        int? topK = a.Int("top-k", 1, config.NumLocalExperts);
        bool noVision = a.Flag("no-vision");
        a.EnsureAllUsed();
        bool vision = !noVision && preset.StartsWith("tiny-", StringComparison.Ordinal) && layout == CheckpointNameLayout.ConditionalGeneration;

        if (Directory.Exists(output) && Directory.EnumerateFileSystemEntries(output).Any())
            throw new UsageException($"--out: '{output}' exists and is not empty");

        Directory.CreateDirectory(output);
        // The tiny tokenizer learns its merges from a small embedded sample, so it exists for the
        // tiny vocabularies only; bench-0.8b is driven with --tokens (its config keeps bos 1, eos 2); bench-0.7b is its shape with
        // a 512-id vocabulary, so it gets the tokenizer and a gateway can serve it.
        ImageTokenIds? image = null;
        if (config.VocabSize <= 512)
        {
            var ids = TinyTokenizerWriter.Write(output, config.VocabSize);
            config = config with { BosTokenId = ids.BeginOfText, EosTokenIds = ids.EosTokenIds.ToArray(), PadTokenId = ids.Pad };
            image = new ImageTokenIds(ids.ImageStart, ids.ImageEnd, ids.Patch);
        }
        config = config with { NumExpertsPerToken = topK ?? config.NumExpertsPerToken };
        var options = new TinyCheckpointOptions
        {
            Seed = seed, DType = tensorDType, Layout = layout, Shards = shards, Experts = expertStorage,
            Vision = vision && image is not null ? Llama4VisionConfig.Tiny : null,
        };
        Terminal.WithProgress($"writing {preset}", p =>
        {
            TinyCheckpointWriter.Write(output, config, options, image, p);
            return 0;
        });
        string tower = options.Vision is { } v ? $" + a vision tower of {v.TotalParameters(config.HiddenSize):N0}" : "";
        Terminal.Info($"wrote {preset} ({config.TotalParameters:N0} parameters{tower}, {dtype}, seed {seed}) to {output}");
        return 0;
    }
}
