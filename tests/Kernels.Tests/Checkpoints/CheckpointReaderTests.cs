using System.Text.Json.Nodes;
using Llama4Cluster.Kernels.Checkpoints;
using Llama4Cluster.Core.Config;
using TorchSharp;

namespace Llama4Cluster.Kernels.Tests.Checkpoints;

public sealed class CheckpointReaderTests
{
    private static readonly torch.ScalarType F32 = torch.ScalarType.Float32;

    private static float[] Values(torch.Tensor t)
    {
        using var f = t.to(F32).contiguous();
        return f.data<float>().ToArray();
    }

    [Fact]
    public void LayoutsAndShardingLoadIdenticalTensors()
    {
        using var dir = new TempDirectory();
        var config = Llama4Presets.TinyMaverick;
        var variants = new (string Name, TinyCheckpointOptions Options)[]
        {
            ("cg-single", new() { Seed = 11 }),
            ("causal-single", new() { Seed = 11, Layout = CheckpointNameLayout.CausalLm }),
            ("cg-sharded", new() { Seed = 11, Shards = 4 }),
            ("causal-sharded", new() { Seed = 11, Layout = CheckpointNameLayout.CausalLm, Shards = 2 }),
        };
        foreach (var (name, options) in variants) TinyCheckpointWriter.Write(dir.Sub(name), config, options);

        var readers = variants.Select(v => CheckpointReader.Open(Path.Combine(dir.Path, v.Name))).ToArray();
        try
        {
            var expected = SpecTensorNames.Expected(config, ExpertStorage.Fused);
            Assert.All(readers, r => Assert.Equal(expected.Keys.Order(StringComparer.Ordinal), r.TensorNames.Order(StringComparer.Ordinal)));
            Assert.Equal(4, readers[2].Files.Count);
            foreach (var (name, shape) in expected)
            {
                using var reference = readers[0].Load(name, shape, F32, torch.CPU);
                Assert.Equal(shape, reference.shape);
                Assert.Equal(F32, reference.dtype);
                float[] want = Values(reference);
                for (int i = 1; i < readers.Length; i++)
                {
                    using var other = readers[i].Load(name, shape, F32, torch.CPU);
                    Assert.Equal(want, Values(other));
                }
            }
        }
        finally
        {
            foreach (var r in readers) r.Dispose();
        }
    }

    [Theory]
    [InlineData(ExpertStorage.Fused)]
    [InlineData(ExpertStorage.PerExpert)]
    [InlineData(ExpertStorage.PerExpertFp8)]
    public void EveryKeyIsConsumedByAModelShapedLoad(ExpertStorage storage)
    {
        using var dir = new TempDirectory();
        TinyCheckpointWriter.Write(dir.Path, Llama4Presets.TinyScout, new TinyCheckpointOptions { Experts = storage, Shards = 2 });
        using var reader = CheckpointReader.Open(dir.Path);
        Assert.Empty(reader.ConsumedNames);
        SpecTensorNames.LoadEverything(reader, storage);
        var unconsumed = reader.TensorNames.Where(n => !reader.ConsumedNames.Contains(n)).ToArray();
        Assert.Empty(unconsumed);
        Assert.True(reader.ConsumedNames.SetEquals(reader.TensorNames));
    }

    [Fact]
    public void ConvertsEachFloatDTypeToTheRequestedOne()
    {
        using var dir = new TempDirectory();
        File.WriteAllText(dir.File("config.json"), Llama4ConfigWriter.ToJson(Llama4Presets.TinyScout));
        var writer = new SafetensorsWriter();
        writer.Add("model.bf16", SafetensorsDType.BF16, [3], [0x80, 0x3F, 0x00, 0xC0, 0x49, 0x40]);          // 1, -2, 3.140625
        writer.Add("model.f16", SafetensorsDType.F16, [3], [0x00, 0x3C, 0x00, 0xC0, 0x55, 0x35]);           // 1, -2, 0.33325195
        writer.Add("model.f32", SafetensorsDType.F32, [3], [.. BitConverter.GetBytes(0.1f), .. BitConverter.GetBytes(-7f), .. BitConverter.GetBytes(1e-30f)]);
        writer.Add("model.f64", SafetensorsDType.F64, [1], BitConverter.GetBytes(0.25));
        writer.Write(dir.File("model.safetensors"));
        using var reader = CheckpointReader.Open(dir.Path);

        using (var t = reader.Load("model.bf16", [3], F32, torch.CPU)) Assert.Equal([1f, -2f, 3.140625f], Values(t));
        using (var t = reader.Load("model.f16", [3], F32, torch.CPU)) Assert.Equal([1f, -2f, 0.33325195f], Values(t));
        using (var t = reader.Load("model.f32", [3], F32, torch.CPU)) Assert.Equal([0.1f, -7f, 1e-30f], Values(t));
        using (var t = reader.Load("model.f64", [1], F32, torch.CPU)) Assert.Equal([0.25f], Values(t));
        using (var t = reader.Load("model.f32", [3], torch.ScalarType.BFloat16, torch.CPU))
        {
            Assert.Equal(torch.ScalarType.BFloat16, t.dtype);
            // 0.1 → bf16 0x3DCD = 0.10009765625 (round to nearest even, as the writer does).
            Assert.Equal(FloatFormats.BFloat16ToSingle(FloatFormats.SingleToBFloat16(0.1f)), Values(t)[0]);
        }
        using (var t = reader.Load("model.bf16", [3], torch.ScalarType.Float16, torch.CPU))
        {
            Assert.Equal(torch.ScalarType.Float16, t.dtype);
            Assert.Equal([1f, -2f, 3.140625f], Values(t));
        }
        using (var t = reader.Load("model.bf16", [3], torch.ScalarType.BFloat16, torch.CPU))
            Assert.Equal([1f, -2f, 3.140625f], Values(t));
        Assert.Equal(2 * 3 + 2 * 3 + 4 * 3 + 8 + 4 * 3 + 2 * 3 + 2 * 3, reader.BytesRead);
    }

    // ----- bad checkpoints: each throws CheckpointException naming the file and the tensor -----

    private static string WriteTiny(TempDirectory dir, int shards = 1, CheckpointNameLayout layout = CheckpointNameLayout.ConditionalGeneration)
    {
        TinyCheckpointWriter.Write(dir.Path, Llama4Presets.TinyScout, new TinyCheckpointOptions { Shards = shards, Layout = layout });
        return dir.Path;
    }

    private static void AssertNames(CheckpointException e, string file, string tensor)
    {
        Assert.Contains(file, e.File);
        Assert.Contains(file, e.Message);
        Assert.NotNull(e.Tensor);
        Assert.Contains(tensor, e.Tensor);
        Assert.Contains(tensor, e.Message);
    }

    [Fact]
    public void MissingTensorIsNamed()
    {
        using var dir = new TempDirectory();
        var writer = new SafetensorsWriter();
        writer.AddSingles("language_model.model.norm.weight", SafetensorsDType.BF16, [64], new float[64]);
        writer.Write(dir.File("model.safetensors"));
        File.WriteAllText(dir.File("config.json"), Llama4ConfigWriter.ToJson(Llama4Presets.TinyScout));
        using var reader = CheckpointReader.Open(dir.Path);
        Assert.False(reader.Contains("model.layers.0.self_attn.q_proj.weight"));
        var e = Assert.Throws<CheckpointException>(() => reader.Load("model.layers.0.self_attn.q_proj.weight", [64, 64], F32, torch.CPU));
        AssertNames(e, "model.safetensors", "model.layers.0.self_attn.q_proj.weight");
        var ex = Assert.Throws<CheckpointException>(() => reader.LoadExperts(0, [1], F32, torch.CPU));
        AssertNames(ex, "model.safetensors", "model.layers.0.feed_forward.experts.gate_up_proj");
    }

    [Fact]
    public void WrongShapeNamesFileTensorAndBothShapes()
    {
        using var dir = new TempDirectory();
        using var reader = CheckpointReader.Open(WriteTiny(dir));
        var e = Assert.Throws<CheckpointException>(() => reader.Load("model.layers.1.self_attn.k_proj.weight", [64, 64], F32, torch.CPU));
        AssertNames(e, "model.safetensors", "language_model.model.layers.1.self_attn.k_proj.weight");
        Assert.Contains("[32, 64]", e.Message);
        Assert.Contains("[64, 64]", e.Message);
    }

    [Fact]
    public void FusedExpertsOfTheWrongShapeAreNamed()
    {
        using var dir = new TempDirectory();
        WriteTiny(dir);
        // Same tensors, but a config whose expert width differs.
        File.WriteAllText(dir.File("config.json"), Llama4ConfigWriter.ToJson(Llama4Presets.TinyScout with { IntermediateSize = 16 }));
        using var reader = CheckpointReader.Open(dir.Path);
        var e = Assert.Throws<CheckpointException>(() => reader.LoadExperts(0, [0], F32, torch.CPU));
        AssertNames(e, "model.safetensors", "language_model.model.layers.0.feed_forward.experts.gate_up_proj");
        Assert.Contains("[16, 64, 64]", e.Message);
        Assert.Contains("[16, 64, 32]", e.Message);
    }

    [Fact]
    public void UnsupportedDTypeForAWeightIsNamed()
    {
        using var dir = new TempDirectory();
        var writer = new SafetensorsWriter();
        writer.Add("model.norm.weight", SafetensorsDType.I64, [64], new byte[64 * 8]);
        writer.Add("model.layers.0.self_attn.q_proj.weight", SafetensorsDType.F8_E4M3, [64, 64], new byte[64 * 64]);
        writer.Write(dir.File("model.safetensors"));
        File.WriteAllText(dir.File("config.json"), Llama4ConfigWriter.ToJson(Llama4Presets.TinyScout));
        using var reader = CheckpointReader.Open(dir.Path);
        var e = Assert.Throws<CheckpointException>(() => reader.Load("model.norm.weight", [64], F32, torch.CPU));
        AssertNames(e, "model.safetensors", "model.norm.weight");
        Assert.Contains("I64", e.Message);
        var f8 = Assert.Throws<CheckpointException>(() => reader.Load("model.layers.0.self_attn.q_proj.weight", [64, 64], F32, torch.CPU));
        AssertNames(f8, "model.safetensors", "model.layers.0.self_attn.q_proj.weight");
        Assert.Contains("weight_scale", f8.Message);
        Assert.Empty(reader.ConsumedNames);
    }

    [Fact]
    public void TruncatedShardIsNamedWithItsTensor()
    {
        using var dir = new TempDirectory();
        WriteTiny(dir, shards: 2);
        string shard = dir.File("model-00002-of-00002.safetensors");
        byte[] raw = File.ReadAllBytes(shard);
        File.WriteAllBytes(shard, raw[..^100]);
        var e = Assert.Throws<CheckpointException>(() => CheckpointReader.Open(dir.Path));
        // The last tensor written is the head, which now runs past the end of the file.
        AssertNames(e, "model-00002-of-00002.safetensors", "language_model.lm_head.weight");
        Assert.Contains("truncated", e.Message);
    }

    [Fact]
    public void TruncatedSingleFileIsNamedWithItsTensor()
    {
        using var dir = new TempDirectory();
        WriteTiny(dir, layout: CheckpointNameLayout.CausalLm);
        byte[] raw = File.ReadAllBytes(dir.File("model.safetensors"));
        File.WriteAllBytes(dir.File("model.safetensors"), raw[..^1]);
        var e = Assert.Throws<CheckpointException>(() => CheckpointReader.Open(dir.Path));
        AssertNames(e, "model.safetensors", "lm_head.weight");
    }

    [Fact]
    public void CorruptHeaderLengthInAShardNamesATensorOfThatShard()
    {
        using var dir = new TempDirectory();
        WriteTiny(dir, shards: 3);
        string shard = dir.File("model-00002-of-00003.safetensors");
        byte[] raw = File.ReadAllBytes(shard);
        BitConverter.GetBytes(ulong.MaxValue - 5).CopyTo(raw, 0);
        File.WriteAllBytes(shard, raw);
        var e = Assert.Throws<CheckpointException>(() => CheckpointReader.Open(dir.Path));
        var index = JsonNode.Parse(File.ReadAllText(dir.File("model.safetensors.index.json")))!["weight_map"]!.AsObject();
        Assert.Equal("model-00002-of-00003.safetensors", (string?)index[e.Tensor!]);
        AssertNames(e, "model-00002-of-00003.safetensors", e.Tensor!);
        Assert.Contains("corrupt header length", e.Message);
    }

    [Fact]
    public void HeaderNotJsonInAShardNamesATensorOfThatShard()
    {
        using var dir = new TempDirectory();
        WriteTiny(dir, shards: 2);
        string shard = dir.File("model-00001-of-00002.safetensors");
        byte[] raw = File.ReadAllBytes(shard);
        raw[8] = (byte)'#'; // the opening brace of the JSON header
        File.WriteAllBytes(shard, raw);
        var e = Assert.Throws<CheckpointException>(() => CheckpointReader.Open(dir.Path));
        AssertNames(e, "model-00001-of-00002.safetensors", "language_model.model.");
        Assert.Contains("not valid JSON", e.Message);
    }

    [Fact]
    public void CorruptHeaderOfASingleFileNamesTheFile()
    {
        using var dir = new TempDirectory();
        WriteTiny(dir);
        byte[] raw = File.ReadAllBytes(dir.File("model.safetensors"));
        raw[7] = 0x10;
        File.WriteAllBytes(dir.File("model.safetensors"), raw);
        var e = Assert.Throws<CheckpointException>(() => CheckpointReader.Open(dir.Path));
        Assert.Contains("model.safetensors", e.Message);
        Assert.Contains("corrupt header length", e.Message);
        // No tensor can be named: the header that names them is unreadable and there is no index.
        Assert.Null(e.Tensor);
    }

    [Fact]
    public void IndexNamingAMissingShardIsNamed()
    {
        using var dir = new TempDirectory();
        WriteTiny(dir, shards: 3);
        File.Delete(dir.File("model-00003-of-00003.safetensors"));
        var e = Assert.Throws<CheckpointException>(() => CheckpointReader.Open(dir.Path));
        AssertNames(e, "model-00003-of-00003.safetensors", "language_model.");
        Assert.Contains("does not exist", e.Message);
    }

    [Fact]
    public void IndexNamingATensorTheShardLacksIsNamed()
    {
        using var dir = new TempDirectory();
        WriteTiny(dir, shards: 2);
        var index = JsonNode.Parse(File.ReadAllText(dir.File("model.safetensors.index.json")))!;
        index["weight_map"]!["language_model.model.layers.9.self_attn.q_proj.weight"] = "model-00001-of-00002.safetensors";
        File.WriteAllText(dir.File("model.safetensors.index.json"), index.ToJsonString());
        var e = Assert.Throws<CheckpointException>(() => CheckpointReader.Open(dir.Path));
        AssertNames(e, "model-00001-of-00002.safetensors", "language_model.model.layers.9.self_attn.q_proj.weight");
    }

    [Fact]
    public void BadConfigAndMissingFilesAreNamed()
    {
        using var dir = new TempDirectory();
        var noConfig = Assert.Throws<CheckpointException>(() => CheckpointReader.Open(dir.Path));
        Assert.Contains("config.json", noConfig.Message);
        File.WriteAllText(dir.File("config.json"), Llama4ConfigWriter.ToJson(Llama4Presets.TinyScout));
        var noWeights = Assert.Throws<CheckpointException>(() => CheckpointReader.Open(dir.Path));
        Assert.Contains("model.safetensors", noWeights.Message);
    }

    [Fact]
    public void BothLayoutsInOneCheckpointAreRejected()
    {
        using var dir = new TempDirectory();
        var writer = new SafetensorsWriter();
        writer.AddSingles("model.norm.weight", SafetensorsDType.BF16, [64], new float[64]);
        writer.AddSingles("language_model.model.norm.weight", SafetensorsDType.BF16, [64], new float[64]);
        writer.Write(dir.File("model.safetensors"));
        File.WriteAllText(dir.File("config.json"), Llama4ConfigWriter.ToJson(Llama4Presets.TinyScout));
        var e = Assert.Throws<CheckpointException>(() => CheckpointReader.Open(dir.Path));
        Assert.Contains("model.norm.weight", e.Message);
        Assert.Contains("model.safetensors", e.Message);
    }
}
