using Llama4Cluster.Kernels.Checkpoints;
using Llama4Cluster.Core.Config;
using TorchSharp;

namespace Llama4Cluster.Kernels.Tests.Checkpoints;

public sealed class ExpertLoadingTests
{
    private static readonly torch.ScalarType F32 = torch.ScalarType.Float32;

    private static float[] Values(torch.Tensor t)
    {
        using var f = t.to(F32).contiguous();
        return f.data<float>().ToArray();
    }

    [Theory]
    [InlineData(SafetensorsDType.BF16)]
    [InlineData(SafetensorsDType.F32)]
    public void FusedAndPerExpertLayoutsGiveIdenticalExperts(SafetensorsDType dtype)
    {
        using var dir = new TempDirectory();
        var config = Llama4Presets.TinyMaverick;
        string fused = dir.Sub("fused"), perExpert = dir.Sub("per-expert");
        TinyCheckpointWriter.Write(fused, config, new TinyCheckpointOptions { Seed = 5, DType = dtype });
        TinyCheckpointWriter.Write(perExpert, config, new TinyCheckpointOptions { Seed = 5, DType = dtype, Experts = ExpertStorage.PerExpert, Layout = CheckpointNameLayout.CausalLm });
        using var a = CheckpointReader.Open(fused);
        using var b = CheckpointReader.Open(perExpert);
        int[] ids = [127, 3, 64, 3];
        long d = config.HiddenSize, f = config.IntermediateSize;
        foreach (int layer in new[] { 1, 3 })
        {
            using var wa = a.LoadExperts(layer, ids, F32, torch.CPU);
            using var wb = b.LoadExperts(layer, ids, F32, torch.CPU);
            Assert.Equal(ids, wa.ExpertIds);
            Assert.Equal([ids.Length, 2 * f, d], wa.GateUp.shape);
            Assert.Equal([ids.Length, d, f], wa.Down.shape);
            Assert.Equal(Values(wb.GateUp), Values(wa.GateUp));
            Assert.Equal(Values(wb.Down), Values(wa.Down));

            // Gate = the first F columns of gate_up_proj[e] (= the first F rows of GateUp), up = the rest; down transposed.
            using var gateUpRaw = a.Load(CheckpointNames.FusedGateUp(layer), [config.NumLocalExperts, d, 2 * f], F32, torch.CPU);
            using var downRaw = a.Load(CheckpointNames.FusedDown(layer), [config.NumLocalExperts, f, d], F32, torch.CPU);
            for (int i = 0; i < ids.Length; i++)
            {
                int e = ids[i];
                using var gate = b.Load(CheckpointNames.ExpertWeight(layer, e, "gate_proj"), [f, d], F32, torch.CPU);
                using var up = b.Load(CheckpointNames.ExpertWeight(layer, e, "up_proj"), [f, d], F32, torch.CPU);
                using var down = b.Load(CheckpointNames.ExpertWeight(layer, e, "down_proj"), [d, f], F32, torch.CPU);
                using var gateUpI = wa.GateUp[i];
                using var gateRows = gateUpI.narrow(0, 0, f);
                using var upRows = gateUpI.narrow(0, f, f);
                Assert.Equal(Values(gate), Values(gateRows));
                Assert.Equal(Values(up), Values(upRows));
                using var downI = wa.Down[i];
                Assert.Equal(Values(down), Values(downI));

                using var rawE = gateUpRaw[e];
                using var firstColumns = rawE.narrow(1, 0, f).t();
                Assert.Equal(Values(firstColumns), Values(gateRows));
                using var rawDown = downRaw[e].t();
                Assert.Equal(Values(rawDown), Values(downI));
            }
        }
    }

    [Fact]
    public void ExpertsLoadInTheRequestedDTypeAndOwnTheirTensors()
    {
        using var dir = new TempDirectory();
        TinyCheckpointWriter.Write(dir.Path, Llama4Presets.TinyScout, new TinyCheckpointOptions());
        using var reader = CheckpointReader.Open(dir.Path);
        ExpertWeights w;
        using (torch.NewDisposeScope())
        {
            w = reader.LoadExperts(2, [0, 15], torch.ScalarType.BFloat16, torch.CPU);
        }
        // The scope has ended; the owner still holds live tensors.
        using (w)
        {
            Assert.Equal(torch.ScalarType.BFloat16, w.GateUp.dtype);
            Assert.Equal(torch.ScalarType.BFloat16, w.Down.dtype);
            Assert.Equal(32, w.IntermediateSize);
            Assert.Contains(Values(w.GateUp), v => v != 0);
        }
    }

    [Fact]
    public void Fp8DequantisationMatchesAHandComputedCase()
    {
        // One MoE layer, D = 4, F = 2, two experts; expert 1 is FP8 with known bytes and scales, expert 0 is BF16.
        var config = Llama4Presets.TinyScout with
        {
            VocabSize = 8, HiddenSize = 4, IntermediateSize = 2, IntermediateSizeMlp = 4, NumHiddenLayers = 1,
            NumAttentionHeads = 1, NumKeyValueHeads = 1, HeadDim = 4, NumLocalExperts = 2, NumExpertsPerToken = 1,
            MoeLayers = [true], RopeLayers = [true],
        };
        using var dir = new TempDirectory();
        File.WriteAllText(dir.File("config.json"), Llama4ConfigWriter.ToJson(config));
        var writer = new SafetensorsWriter();
        string P(int e, string proj) => "language_model." + CheckpointNames.ExpertWeight(0, e, proj);
        // gate_proj [F=2, D=4]: row 0 = 1, 2, -1, 0; row 1 = 1.5, 2^-9, 448, -2; scales (F32, [2, 1]) 0.5 and 0.25.
        writer.Add(P(1, "gate_proj"), SafetensorsDType.F8_E4M3, [2, 4], [0x38, 0x40, 0xB8, 0x00, 0x3C, 0x01, 0x7E, 0xC0]);
        writer.Add(P(1, "gate_proj") + "_scale", SafetensorsDType.F32, [2, 1], [.. BitConverter.GetBytes(0.5f), .. BitConverter.GetBytes(0.25f)]);
        // up_proj [2, 4]: all 1.0 (0x38) with BF16 scales of shape [2]: 3 and -0.125.
        writer.Add(P(1, "up_proj"), SafetensorsDType.F8_E4M3, [2, 4], [0x38, 0x38, 0x38, 0x38, 0x38, 0x38, 0x38, 0x38]);
        writer.Add(P(1, "up_proj") + "_scale", SafetensorsDType.BF16, [2], [0x40, 0x40, 0x00, 0xBE]);
        // down_proj [D=4, F=2]: rows (240, -0.015625), (0.013671875, 1), (0, 0), (-448, 2); scale 2^-4 for every row.
        writer.Add(P(1, "down_proj"), SafetensorsDType.F8_E4M3, [4, 2], [0x77, 0x88, 0x07, 0x38, 0x00, 0x00, 0xFE, 0x40]);
        writer.AddSingles(P(1, "down_proj") + "_scale", SafetensorsDType.F32, [4, 1], [0.0625f, 0.0625f, 0.0625f, 0.0625f]);
        writer.AddSingles(P(0, "gate_proj"), SafetensorsDType.BF16, [2, 4], [1, 1, 1, 1, 1, 1, 1, 1]);
        writer.AddSingles(P(0, "up_proj"), SafetensorsDType.BF16, [2, 4], [2, 2, 2, 2, 2, 2, 2, 2]);
        writer.AddSingles(P(0, "down_proj"), SafetensorsDType.BF16, [4, 2], [3, 3, 3, 3, 3, 3, 3, 3]);
        writer.Write(dir.File("model.safetensors"));

        using var reader = CheckpointReader.Open(dir.Path);
        long before = reader.BytesRead;
        using var w = reader.LoadExperts(0, [1, 0], F32, torch.CPU);
        Assert.Equal(reader.ExpertBytesOnDisk(0, [1, 0]), reader.BytesRead - before);
        Assert.Equal((8 + 8) + (8 + 4) + (8 + 16) + 3 * 16, reader.BytesRead - before); // FP8 weight + scale per projection, then three BF16 weights
        using var gu1 = w.GateUp[0];
        Assert.Equal(
            [
                0.5f, 1f, -0.5f, 0f,               // gate row 0 × 0.5
                0.375f, 0.00048828125f, 112f, -0.5f, // gate row 1 × 0.25
                3f, 3f, 3f, 3f,                    // up row 0 × 3
                -0.125f, -0.125f, -0.125f, -0.125f, // up row 1 × -0.125
            ],
            Values(gu1));
        using var dn1 = w.Down[0];
        Assert.Equal([15f, -0.0009765625f, 0.0008544921875f, 0.0625f, 0f, 0f, -28f, 0.125f], Values(dn1));
        using var gu0 = w.GateUp[1];
        Assert.Equal([1f, 1f, 1f, 1f, 1f, 1f, 1f, 1f, 2f, 2f, 2f, 2f, 2f, 2f, 2f, 2f], Values(gu0));

        // The same dequantisation through Load, and both names are consumed.
        using var gate = reader.Load(CheckpointNames.ExpertWeight(0, 1, "gate_proj"), [2, 4], torch.ScalarType.BFloat16, torch.CPU);
        Assert.Equal([0.5f, 1f, -0.5f, 0f, 0.375f, 0.00048828125f, 112f, -0.5f], Values(gate));
        Assert.Contains(CheckpointNames.ExpertWeight(0, 1, "gate_proj") + "_scale", reader.ConsumedNames);
    }

    [Fact]
    public void Fp8ScaleOfTheWrongShapeIsNamed()
    {
        var config = Llama4Presets.TinyScout with
        {
            VocabSize = 8, HiddenSize = 4, IntermediateSize = 2, IntermediateSizeMlp = 4, NumHiddenLayers = 1,
            NumAttentionHeads = 1, NumKeyValueHeads = 1, HeadDim = 4, NumLocalExperts = 1, NumExpertsPerToken = 1,
            MoeLayers = [true], RopeLayers = [true],
        };
        using var dir = new TempDirectory();
        File.WriteAllText(dir.File("config.json"), Llama4ConfigWriter.ToJson(config));
        var writer = new SafetensorsWriter();
        foreach (var (proj, rows, cols) in new[] { ("gate_proj", 2, 4), ("up_proj", 2, 4), ("down_proj", 4, 2) })
        {
            string name = "model." + CheckpointNames.ExpertWeight(0, 0, proj)["model.".Length..];
            writer.Add(name, SafetensorsDType.F8_E4M3, [rows, cols], new byte[rows * cols]);
            writer.AddSingles(name + "_scale", SafetensorsDType.F32, proj == "up_proj" ? [1, rows] : [rows, 1], new float[rows]);
        }
        writer.Write(dir.File("model.safetensors"));
        using var reader = CheckpointReader.Open(dir.Path);
        var e = Assert.Throws<CheckpointException>(() => reader.LoadExperts(0, [0], F32, torch.CPU));
        Assert.Contains("model.safetensors", e.Message);
        Assert.Equal("model.layers.0.feed_forward.experts.0.up_proj.weight_scale", e.Tensor);
        Assert.Contains("[1, 2]", e.Message);
    }

    [Theory]
    [InlineData(SafetensorsDType.BF16, true)]
    [InlineData(SafetensorsDType.F32, false)]
    public void Fp8CheckpointDequantisesCloseToTheFullPrecisionWeights(SafetensorsDType scaleType, bool column)
    {
        using var dir = new TempDirectory();
        string full = dir.Sub("full"), fp8 = dir.Sub("fp8");
        var config = Llama4Presets.TinyScout;
        TinyCheckpointWriter.Write(full, config, new TinyCheckpointOptions { Seed = 9, DType = SafetensorsDType.F32 });
        TinyCheckpointWriter.Write(fp8, config, new TinyCheckpointOptions
        {
            Seed = 9, DType = SafetensorsDType.F32, Experts = ExpertStorage.PerExpertFp8, Fp8ScaleDType = scaleType, Fp8ScaleAsColumn = column,
        });
        using var a = CheckpointReader.Open(full);
        using var b = CheckpointReader.Open(fp8);
        int[] ids = [4, 9];
        using var wa = a.LoadExperts(0, ids, F32, torch.CPU);
        using var wb = b.LoadExperts(0, ids, F32, torch.CPU);
        float[] x = Values(wa.GateUp), y = Values(wb.GateUp);
        // E4M3 has 3 mantissa bits: relative error ≤ 2^-4 for normal values; subnormals (tiny in each row) err by ≤ scale·2^-10.
        int rows = x.Length / config.HiddenSize;
        for (int r = 0; r < rows; r++)
        {
            var row = x.AsSpan(r * config.HiddenSize, config.HiddenSize);
            float amax = 0;
            foreach (float v in row) amax = MathF.Max(amax, MathF.Abs(v));
            for (int c = 0; c < row.Length; c++)
            {
                float tol = MathF.Abs(row[c]) / 16 + amax / 448 / 512 + amax / 128; // + the bf16 scale's rounding
                Assert.True(MathF.Abs(row[c] - y[r * config.HiddenSize + c]) <= tol, $"row {r} col {c}: {row[c]} vs {y[r * config.HiddenSize + c]}");
            }
        }
        Assert.NotEqual(x, y); // it really was quantised
    }

    [Theory]
    [InlineData(ExpertStorage.Fused)]
    [InlineData(ExpertStorage.PerExpert)]
    [InlineData(ExpertStorage.PerExpertFp8)]
    public void SubsetLoadingReadsOnlyTheRequestedExperts(ExpertStorage storage)
    {
        using var dir = new TempDirectory();
        var config = Llama4Presets.TinyMaverick;
        TinyCheckpointWriter.Write(dir.Path, config, new TinyCheckpointOptions { Experts = storage, Shards = 2 });
        using var reader = CheckpointReader.Open(dir.Path);
        long d = config.HiddenSize, f = config.IntermediateSize, e = config.NumLocalExperts;
        int[] ids = [77, 5];
        long onDisk = reader.ExpertBytesOnDisk(3, ids);
        long perExpert = storage == ExpertStorage.PerExpertFp8
            ? 3 * d * f + 2 * (2 * f) + 2 * d // FP8 bytes + BF16 scales ([F,1] twice, [D,1] once)
            : 3 * d * f * 2;
        Assert.Equal(ids.Length * perExpert, onDisk);

        long before = reader.BytesRead;
        using var w = reader.LoadExperts(3, ids, torch.ScalarType.BFloat16, torch.CPU);
        long read = reader.BytesRead - before;
        Assert.Equal(onDisk, read);
        // The layer's routed experts occupy E × perExpert bytes; two experts are 1/64 of that.
        long layerExpertBytes = e * perExpert;
        Assert.True(read * 60 < layerExpertBytes, $"read {read} of {layerExpertBytes}");
        if (storage == ExpertStorage.Fused)
        {
            var gateUp = reader.Files.SelectMany(file => file.Tensors.Values).Single(t => t.Name.EndsWith("layers.3.feed_forward.experts.gate_up_proj", StringComparison.Ordinal));
            var down = reader.Files.SelectMany(file => file.Tensors.Values).Single(t => t.Name.EndsWith("layers.3.feed_forward.experts.down_proj", StringComparison.Ordinal));
            Assert.Equal(layerExpertBytes, gateUp.ByteLength + down.ByteLength);
        }

        // A second load of other experts reads only its own bytes too.
        before = reader.BytesRead;
        using var w2 = reader.LoadExperts(1, [0], torch.ScalarType.BFloat16, torch.CPU);
        Assert.Equal(reader.ExpertBytesOnDisk(1, [0]), reader.BytesRead - before);
        Assert.Equal(perExpert, reader.BytesRead - before);
    }

    [Fact]
    public void DenseLayersAndBadExpertIdsAreRejected()
    {
        using var dir = new TempDirectory();
        TinyCheckpointWriter.Write(dir.Path, Llama4Presets.TinyMaverick, new TinyCheckpointOptions());
        using var reader = CheckpointReader.Open(dir.Path);
        Assert.Throws<ArgumentException>(() => reader.LoadExperts(0, [0], F32, torch.CPU));
        Assert.Throws<ArgumentOutOfRangeException>(() => reader.LoadExperts(1, [128], F32, torch.CPU));
        Assert.Throws<ArgumentOutOfRangeException>(() => reader.LoadExperts(4, [0], F32, torch.CPU));
        using var none = reader.LoadExperts(1, [], F32, torch.CPU);
        Assert.Equal([0L, 64L, 48L], none.GateUp.shape);
    }
}
