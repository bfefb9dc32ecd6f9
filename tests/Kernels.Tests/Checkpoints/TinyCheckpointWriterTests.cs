using System.Text.Json.Nodes;
using Llama4Cluster.Kernels.Checkpoints;
using Llama4Cluster.Core.Config;

namespace Llama4Cluster.Kernels.Tests.Checkpoints;

public sealed class TinyCheckpointWriterTests
{
    public static TheoryData<string, CheckpointNameLayout, ExpertStorage> PresetLayouts()
    {
        var data = new TheoryData<string, CheckpointNameLayout, ExpertStorage>();
        foreach (string preset in new[] { "tiny-scout", "tiny-maverick" })
            foreach (var layout in Enum.GetValues<CheckpointNameLayout>())
                foreach (var storage in Enum.GetValues<ExpertStorage>())
                    data.Add(preset, layout, storage);
        return data;
    }

    [Theory]
    [MemberData(nameof(PresetLayouts))]
    public void WritesExactlyTheSpecTensorList(string preset, CheckpointNameLayout layout, ExpertStorage storage)
    {
        var config = Llama4Presets.Get(preset);
        using var dir = new TempDirectory();
        TinyCheckpointWriter.Write(dir.Path, config, new TinyCheckpointOptions { Layout = layout, Experts = storage });

        using var file = SafetensorsFile.Open(dir.File("model.safetensors"));
        var expected = SpecTensorNames.Expected(config, storage);
        string prefix = layout == CheckpointNameLayout.ConditionalGeneration ? "language_model." : "";
        var expectedOnDisk = expected.ToDictionary(kv => prefix + kv.Key, kv => kv.Value);
        Assert.Equal(expectedOnDisk.Keys.Order(StringComparer.Ordinal), file.Tensors.Keys.Order(StringComparer.Ordinal));
        foreach (var (name, info) in file.Tensors)
        {
            Assert.Equal(expectedOnDisk[name], info.Shape);
            var expectedType = storage == ExpertStorage.PerExpertFp8 && name.Contains(".experts.", StringComparison.Ordinal)
                ? (name.EndsWith("_scale", StringComparison.Ordinal) ? SafetensorsDType.BF16 : SafetensorsDType.F8_E4M3)
                : SafetensorsDType.BF16;
            Assert.Equal(expectedType, info.DType);
        }
        // Parameter count of spec §6 (FP8 scales are not parameters).
        long parameters = file.Tensors.Values.Where(t => !t.Name.EndsWith("_scale", StringComparison.Ordinal)).Sum(t => t.ElementCount);
        Assert.Equal(preset == "tiny-scout" ? 537_152 : 1_302_960, parameters);
        Assert.Equal(config.TotalParameters, parameters);
    }

    [Fact]
    public void ConfigRoundTripsThroughTheReader()
    {
        foreach (var layout in Enum.GetValues<CheckpointNameLayout>())
        {
            using var dir = new TempDirectory();
            var imageTokens = new ImageTokenIds(507, 508, 509);
            TinyCheckpointWriter.Write(dir.Path, Llama4Presets.TinyMaverick, new TinyCheckpointOptions { Layout = layout }, imageTokens);
            using var reader = CheckpointReader.Open(dir.Path);
            Assert.Equal(Llama4ConfigWriter.ToJson(Llama4Presets.TinyMaverick), Llama4ConfigWriter.ToJson(reader.Config));
            var root = JsonNode.Parse(File.ReadAllText(dir.File("config.json")))!;
            Assert.Equal(layout == CheckpointNameLayout.ConditionalGeneration ? "Llama4ForConditionalGeneration" : "Llama4ForCausalLM",
                (string?)root["architectures"]![0]);
        }
    }

    [Fact]
    public void Fp8ConfigCarriesTheCompressedTensorsBlock()
    {
        using var dir = new TempDirectory();
        TinyCheckpointWriter.Write(dir.Path, Llama4Presets.TinyScout, new TinyCheckpointOptions { Experts = ExpertStorage.PerExpertFp8 });
        var q = JsonNode.Parse(File.ReadAllText(dir.File("config.json")))!["quantization_config"]!;
        Assert.Equal("compressed-tensors", (string?)q["quant_method"]);
        Assert.Equal("float-quantized", (string?)q["format"]);
        var group = q["config_groups"]!["group_0"]!;
        Assert.Equal("channel", (string?)group["weights"]!["strategy"]);
        Assert.Equal(8, (int)group["weights"]!["num_bits"]!);
        Assert.Equal("token", (string?)group["input_activations"]!["strategy"]);
        Assert.True((bool)group["input_activations"]!["dynamic"]!);
        var ignore = q["ignore"]!.AsArray().Select(n => (string)n!).ToHashSet();
        Assert.Contains("language_model.lm_head", ignore);
        Assert.Contains("language_model.model.layers.0.feed_forward.router", ignore);
        Assert.Contains("language_model.model.layers.3.feed_forward.shared_expert.down_proj", ignore);
        Assert.DoesNotContain(ignore, n => n.Contains(".experts.", StringComparison.Ordinal));
        // The reader ignores the block and still parses the config.
        using var reader = CheckpointReader.Open(dir.Path);
        Assert.Equal(16, reader.Config.NumLocalExperts);
    }

    [Fact]
    public void IsDeterministicAndSeedDependent()
    {
        using var dir = new TempDirectory();
        string a = dir.Sub("a"), b = dir.Sub("b"), c = dir.Sub("c");
        TinyCheckpointWriter.Write(a, Llama4Presets.TinyScout, new TinyCheckpointOptions { Seed = 7 });
        TinyCheckpointWriter.Write(b, Llama4Presets.TinyScout, new TinyCheckpointOptions { Seed = 7 });
        TinyCheckpointWriter.Write(c, Llama4Presets.TinyScout, new TinyCheckpointOptions { Seed = 8 });
        byte[] fa = File.ReadAllBytes(Path.Combine(a, "model.safetensors"));
        Assert.Equal(fa, File.ReadAllBytes(Path.Combine(b, "model.safetensors")));
        Assert.NotEqual(fa, File.ReadAllBytes(Path.Combine(c, "model.safetensors")));
    }

    [Fact]
    public void Bf16IsTheRoundedF32AndStatisticsMatchTheSpec()
    {
        using var dir = new TempDirectory();
        string f32 = dir.Sub("f32"), bf16 = dir.Sub("bf16");
        var config = Llama4Presets.TinyScout;
        TinyCheckpointWriter.Write(f32, config, new TinyCheckpointOptions { DType = SafetensorsDType.F32, Seed = 3 });
        var progress = new List<double>();
        TinyCheckpointWriter.Write(bf16, config, new TinyCheckpointOptions { Seed = 3 }, progress: new SyncProgress(progress));
        Assert.Equal(1.0, progress[^1]);
        Assert.True(progress.Zip(progress.Skip(1)).All(p => p.First <= p.Second));

        using var a = SafetensorsFile.Open(Path.Combine(f32, "model.safetensors"));
        using var b = SafetensorsFile.Open(Path.Combine(bf16, "model.safetensors"));
        foreach (var (name, info) in a.Tensors)
        {
            var full = new float[info.ElementCount];
            FloatFormats.DecodeToSingle(SafetensorsDType.F32, a.ReadAll(name), full);
            byte[] expected = FloatFormats.EncodeFromSingle(SafetensorsDType.BF16, full);
            Assert.Equal(expected, b.ReadAll(name));
        }

        (double Mean, double Std) Stats(string logical)
        {
            var info = a.Tensors["language_model." + logical];
            var v = new float[info.ElementCount];
            FloatFormats.DecodeToSingle(SafetensorsDType.F32, a.ReadAll(info.Name), v);
            double mean = v.Average(x => (double)x);
            return (mean, Math.Sqrt(v.Average(x => (x - mean) * (x - mean))));
        }
        var embed = Stats("model.embed_tokens.weight");          // 32768 samples of N(0, 1)
        Assert.InRange(embed.Mean, -0.03, 0.03);
        Assert.InRange(embed.Std, 0.97, 1.03);
        var q = Stats("model.layers.0.self_attn.q_proj.weight"); // fan_in 64 → std 0.125
        Assert.InRange(q.Std, 0.125 * 0.95, 0.125 * 1.05);
        var o = Stats("model.layers.0.self_attn.o_proj.weight"); // fan_in H·hd = 64
        Assert.InRange(o.Std, 0.125 * 0.95, 0.125 * 1.05);
        var down = Stats("model.layers.1.feed_forward.experts.down_proj"); // fan_in F = 32 → std 0.177
        Assert.InRange(down.Std, 0.1768 * 0.97, 0.1768 * 1.03);
        var router = Stats("model.layers.2.feed_forward.router.weight");
        Assert.InRange(router.Std, 0.125 * 0.85, 0.125 * 1.15);
        var norm = Stats("model.norm.weight");                    // 1 + 0.1·N(0, 1)
        Assert.InRange(norm.Mean, 0.95, 1.05);
        Assert.InRange(norm.Std, 0.07, 0.13);
    }

    [Fact]
    public void ShardedOutputHasAnIndexWithTotalSize()
    {
        using var dir = new TempDirectory();
        TinyCheckpointWriter.Write(dir.Path, Llama4Presets.TinyMaverick, new TinyCheckpointOptions { Shards = 3 });
        Assert.False(File.Exists(dir.File("model.safetensors")));
        var index = JsonNode.Parse(File.ReadAllText(dir.File("model.safetensors.index.json")))!;
        var map = index["weight_map"]!.AsObject();
        var shards = map.Select(kv => (string)kv.Value!).Distinct().Order().ToArray();
        Assert.Equal(["model-00001-of-00003.safetensors", "model-00002-of-00003.safetensors", "model-00003-of-00003.safetensors"], shards);
        long total = 0;
        foreach (string shard in shards)
        {
            using var f = SafetensorsFile.Open(dir.File(shard));
            total += f.Tensors.Values.Sum(t => t.ByteLength);
            Assert.All(f.Tensors.Keys, k => Assert.Equal(shard, (string?)map[k]));
        }
        Assert.Equal(total, (long)index["metadata"]!["total_size"]!);
        Assert.Equal(SpecTensorNames.Expected(Llama4Presets.TinyMaverick, ExpertStorage.Fused).Count, map.Count);
    }

    private sealed class SyncProgress(List<double> values) : IProgress<double>
    {
        public void Report(double value) => values.Add(value);
    }
}
