using Llama4Cluster.Core.Config;
using Llama4Cluster.Kernels.Checkpoints;
using Llama4Cluster.Kernels.Cpu;
using Llama4Cluster.Kernels.Engine;
using Llama4Cluster.Kernels.Model;
using TorchSharp;

namespace Llama4Cluster.Kernels.Tests.Checkpoints;

/// <summary>
/// Weights used in place from the mapped files (and converted in parallel where they must be) give the same model,
/// bit for bit, as copying every tensor's bytes out first; the mapping goes away with the model.
/// </summary>
public sealed class InPlaceLoadingTests
{
    private static readonly int[] Prompt = [1, 17, 42, 5, 99, 3, 250, 8, 61, 7];

    public static TheoryData<string, ExpertStorage, SafetensorsDType, int, string> Cases => new()
    {
        { "tiny-scout", ExpertStorage.Fused, SafetensorsDType.BF16, 1, "bfloat16" },
        { "tiny-scout", ExpertStorage.Fused, SafetensorsDType.BF16, 1, "float32" },
        { "tiny-scout", ExpertStorage.PerExpert, SafetensorsDType.BF16, 2, "bfloat16" },
        { "tiny-scout", ExpertStorage.PerExpertFp8, SafetensorsDType.BF16, 1, "bfloat16" },
        { "tiny-scout", ExpertStorage.PerExpertFp8, SafetensorsDType.BF16, 3, "float32" },
        { "tiny-maverick", ExpertStorage.Fused, SafetensorsDType.F32, 2, "bfloat16" },
        { "tiny-maverick", ExpertStorage.Fused, SafetensorsDType.F32, 1, "float32" },
        { "tiny-maverick", ExpertStorage.Fused, SafetensorsDType.F16, 1, "float32" },
        { "tiny-maverick", ExpertStorage.PerExpert, SafetensorsDType.BF16, 1, "float32" },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void LogitsAreBitIdenticalToLoadingCopiedBytes(string preset, ExpertStorage experts, SafetensorsDType fileDType, int shards, string compute)
    {
        using var dir = new TempDirectory();
        TinyCheckpointWriter.Write(dir.Path, Llama4Presets.Get(preset), new TinyCheckpointOptions { Seed = 5, Experts = experts, DType = fileDType, Shards = shards });
        var dtype = compute == "float32" ? torch.ScalarType.Float32 : torch.ScalarType.BFloat16;
        var options = new ModelOptions { ComputeDType = dtype, Device = torch.CPU };

        using var reader = CheckpointReader.Open(dir.Path);
        using var mapped = LocalEngine.FromModel(Llama4TextModel.Load(new CheckpointWeightSource(reader), options));
        using var copied = LocalEngine.FromModel(Llama4TextModel.Load(new CopiedWeights(reader), options));
        float[][] want = copied.Logits(Prompt), got = mapped.Logits(Prompt);

        Assert.Equal(want.Length, got.Length);
        for (int i = 0; i < want.Length; i++)
            Assert.True(want[i].AsSpan().SequenceEqual(got[i]), $"row {i} of the logits differs between the mapped and the copied load");
        Assert.All(got, row => Assert.All(row, v => Assert.True(float.IsFinite(v))));
    }

    [Fact]
    public void SameDTypeWeightsAreViewsOfTheFileReleasedWithTheModel()
    {
        if (!OperatingSystem.IsLinux()) return; // /proc/self/maps is how the test sees mappings
        using var dir = new TempDirectory();
        TinyCheckpointWriter.Write(dir.Path, Llama4Presets.TinyScout, new TinyCheckpointOptions { Seed = 9 });
        string file = dir.File(SafetensorsWriter.SingleFileName);
        var engine = LocalEngine.Load(dir.Path, new LocalEngineOptions { ComputeDType = torch.ScalarType.BFloat16 });
        float[][] before;
        try
        {
            // The reader is closed once the engine is loaded; only the weights' views still map the file.
            Assert.True(MapsOf(file) > 0, "bf16 weights of a bf16 checkpoint should be views of the mapped file");
            before = engine.Logits(Prompt);
        }
        finally
        {
            engine.Dispose();
        }
        Assert.Equal(0, MapsOf(file));

        // Nothing holds the file: it can be replaced, and a model loaded from the new file sees the new weights.
        File.Delete(file);
        TinyCheckpointWriter.Write(dir.Sub("next"), Llama4Presets.TinyScout, new TinyCheckpointOptions { Seed = 10 });
        File.Move(Path.Combine(dir.Path, "next", SafetensorsWriter.SingleFileName), file);
        using var replaced = LocalEngine.Load(dir.Path, new LocalEngineOptions { ComputeDType = torch.ScalarType.BFloat16 });
        Assert.False(before[^1].AsSpan().SequenceEqual(replaced.Logits(Prompt)[^1]));
    }

    [Fact]
    public void AnInPlaceWeightCannotWriteToTheCheckpoint()
    {
        using var dir = new TempDirectory();
        TinyCheckpointWriter.Write(dir.Path, Llama4Presets.TinyScout, new TinyCheckpointOptions { Seed = 3 });
        string file = dir.File(SafetensorsWriter.SingleFileName);
        byte[] onDisk = File.ReadAllBytes(file);
        long[] shape = [Llama4Presets.TinyScout.HiddenSize];
        using (var reader = CheckpointReader.Open(dir.Path))
        using (var norm = reader.Load("model.norm.weight", shape, torch.ScalarType.BFloat16, torch.CPU))
        using (var two = torch.tensor(2f, torch.ScalarType.BFloat16))
        {
            // Private copy-on-write pages: the write lands in this mapping's copy of the page only.
            norm.mul_(two);
            using var other = CheckpointReader.Open(dir.Path);
            using var fresh = other.Load("model.norm.weight", shape, torch.ScalarType.BFloat16, torch.CPU);
            using var doubled = fresh.mul(two);
            Assert.True(Same(norm, doubled));
            Assert.False(Same(norm, fresh));
        }
        Assert.Equal(onDisk, File.ReadAllBytes(file));
    }

    [Fact]
    public void RowsStoredBackToBackAreOneViewAndOthersAreCopiedIntoOneBuffer()
    {
        using var dir = new TempDirectory();
        var config = Llama4Presets.TinyScout;
        TinyCheckpointWriter.Write(dir.Path, config, new TinyCheckpointOptions { Seed = 4 }); // writes q, k, v back to back
        using var reader = CheckpointReader.Open(dir.Path);
        long d = config.HiddenSize, q = config.NumAttentionHeads * config.HeadDim, kv = config.NumKeyValueHeads * config.HeadDim;
        (string, long[]) Q = ("model.layers.0.self_attn.q_proj.weight", [q, d]), K = ("model.layers.0.self_attn.k_proj.weight", [kv, d]),
            V = ("model.layers.0.self_attn.v_proj.weight", [kv, d]);
        var bf16 = torch.ScalarType.BFloat16;
        using var scope = torch.NewDisposeScope();
        var parts = new[] { Q, K, V }.Select(p => reader.Load(p.Item1, p.Item2, bf16, torch.CPU)).ToArray();

        var inOrder = reader.LoadRows([Q, K, V], bf16, torch.CPU);
        Assert.True(Same(torch.cat(parts, 0), inOrder));
        Assert.Equal(TensorData.Pointer(parts[0]), TensorData.Pointer(inOrder)); // the file's bytes themselves

        var reordered = reader.LoadRows([K, Q, V], bf16, torch.CPU);
        Assert.True(Same(torch.cat([parts[1], parts[0], parts[2]], 0), reordered));
        Assert.NotEqual(TensorData.Pointer(parts[1]), TensorData.Pointer(reordered));

        var widened = reader.LoadRows([Q, K, V], torch.ScalarType.Float32, torch.CPU);
        Assert.True(Same(torch.cat(parts, 0).to(torch.ScalarType.Float32), widened));
        var wrong = Assert.Throws<CheckpointException>(() => reader.LoadRows([Q, ("model.layers.0.self_attn.k_proj.weight", [q, d])], bf16, torch.CPU));
        Assert.Contains("k_proj", wrong.Message);
    }

    [Fact]
    public void AFileTruncatedAfterOpeningIsNamedWithTheTensorWhenMapped()
    {
        using var dir = new TempDirectory();
        TinyCheckpointWriter.Write(dir.Path, Llama4Presets.TinyScout, new TinyCheckpointOptions { Seed = 2 });
        string file = dir.File(SafetensorsWriter.SingleFileName);
        using var reader = CheckpointReader.Open(dir.Path); // the header is valid when opened
        using (var stream = new FileStream(file, FileMode.Open, FileAccess.Write)) stream.SetLength(stream.Length / 2);

        var e = Assert.Throws<CheckpointException>(() =>
            reader.Load("model.embed_tokens.weight", [Llama4Presets.TinyScout.VocabSize, Llama4Presets.TinyScout.HiddenSize], torch.ScalarType.BFloat16, torch.CPU));
        Assert.Equal(file, e.File);
        Assert.Equal("language_model.model.embed_tokens.weight", e.Tensor);
        Assert.Contains("cannot be mapped in place", e.Message);
    }

    [Fact]
    public void AMisalignedTensorIsCopiedAndAnAlignedOneViewed()
    {
        using var dir = new TempDirectory();
        string path = dir.File("mixed.safetensors");
        // "a" is 3 bytes, so "w" (BF16 1.0, -2.0) starts at an odd address; "v" (BF16 3.0) at an even one.
        string header = """{"a":{"dtype":"I8","shape":[3],"data_offsets":[0,3]},"w":{"dtype":"BF16","shape":[2],"data_offsets":[3,7]},"v":{"dtype":"BF16","shape":[1],"data_offsets":[8,10]}}""";
        header = header.PadRight((header.Length + 7) / 8 * 8);
        byte[] data = [1, 2, 3, 0x80, 0x3F, 0x00, 0xC0, 0, 0x40, 0x40];
        File.WriteAllBytes(path, SafetensorsFileTests.RawFile(header, data));
        using var file = SafetensorsFile.Open(path);

        Assert.Null(file.TryView(file.Tensors["w"], 0, [2], torch.ScalarType.BFloat16, 2));
        using var w = new CheckpointTensor(file, file.Tensors["w"]).ReadInPlace(0, [2]);
        using var w32 = w.to(torch.ScalarType.Float32);
        Assert.Equal([1f, -2f], w32.data<float>().ToArray());

        using var v = file.TryView(file.Tensors["v"], 0, [1], torch.ScalarType.BFloat16, 2);
        Assert.NotNull(v);
        using var v32 = v.to(torch.ScalarType.Float32);
        Assert.Equal([3f], v32.data<float>().ToArray());
        Assert.Equal(4 + 2, file.BytesRead); // the copy of "w" and the view of "v"; the refused view reads nothing
    }

    /// <summary>Same shape and every element equal.</summary>
    internal static bool Same(torch.Tensor a, torch.Tensor b)
    {
        if (!a.shape.SequenceEqual(b.shape)) return false;
        using var eq = a.eq(b);
        using var all = eq.all();
        return all.item<bool>();
    }

    private static int MapsOf(string path) => File.ReadLines("/proc/self/maps").Count(l => l.EndsWith(path, StringComparison.Ordinal)
        || l.EndsWith(path + " (deleted)", StringComparison.Ordinal));
}
