using System.Text;
using Llama4Cluster.Contracts.Experts;
using Llama4Cluster.Core.Config;
using Llama4Cluster.Kernels.Checkpoints;
using Llama4Cluster.Silos.Experts;
using Llama4Cluster.Silos.Model;
using Microsoft.Extensions.Options;

namespace Llama4Cluster.Silos.Tests.Experts;

/// <summary>The shared-expert shard's loader: exactly its layer's three tensors, and a clear refusal when the checkpoint
/// has no shared expert for the layer.</summary>
public sealed class SharedExpertShardTests : IDisposable
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "l4c-shared-" + Guid.NewGuid().ToString("N"));

    public SharedExpertShardTests() => TinyCheckpointWriter.Write(_directory, Llama4Presets.TinyScout, new TinyCheckpointOptions { Seed = 3 });

    private SiloModelContext Context() => new(Options.Create(new ClusterModelOptions { ModelDirectory = _directory }));

    [Fact]
    public void LoadsOnlyItsLayersSharedExpert()
    {
        using var context = Context();
        var (shared, info) = SharedExpertShard.Load(context, new ExpertShardKey(1, 2), "silo");
        using (shared)
        {
            var c = context.Config;
            Assert.Equal(3L * c.IntermediateSize * c.HiddenSize * sizeof(float), shared.WeightBytes);
            Assert.Equal(new[] { ExpertShardRequest.SharedExpert }, info.ExpertIds);
            using var reader = CheckpointReader.Open(_directory);
            long before = reader.BytesRead;
            foreach (var name in Kernels.Model.Moe.SharedExpertWeights.Names(1))
                reader.Load(name, name.EndsWith("down_proj.weight", StringComparison.Ordinal) ? [c.HiddenSize, c.IntermediateSize] : [c.IntermediateSize, c.HiddenSize],
                    TorchSharp.torch.ScalarType.Float32, TorchSharp.torch.CPU).Dispose();
            Assert.Equal(reader.BytesRead - before, info.BytesRead);
        }
    }

    [Fact]
    public void ACheckpointWithoutTheSharedExpertIsRefusedNamingWhatIsMissing()
    {
        HideSharedExperts(_directory);
        using var context = Context();
        var e = Assert.Throws<InvalidOperationException>(() => SharedExpertShard.Load(context, new ExpertShardKey(1, 2), "silo"));
        Assert.Contains("has no shared expert for MoE layer 1", e.Message, StringComparison.Ordinal);
        Assert.Contains("shared_expert.gate_proj.weight", e.Message, StringComparison.Ordinal);
        Assert.Contains("--shared-experts rank", e.Message, StringComparison.Ordinal);
    }

    /// <summary>Renames every shared-expert tensor in the checkpoint's headers (same length, so the data offsets hold).</summary>
    private static void HideSharedExperts(string directory)
    {
        byte[] from = Encoding.ASCII.GetBytes("shared_expert"), to = Encoding.ASCII.GetBytes("shared_exbert");
        int hits = 0;
        foreach (var file in Directory.GetFiles(directory, "*.safetensors"))
        {
            var bytes = File.ReadAllBytes(file);
            long header = BitConverter.ToInt64(bytes, 0);
            hits += Replace(bytes.AsSpan(8, (int)header), from, to);
            File.WriteAllBytes(file, bytes);
        }
        Assert.True(hits > 0, "the checkpoint's headers name no shared-expert tensor");
        foreach (var index in Directory.GetFiles(directory, "*.index.json"))
            File.WriteAllText(index, File.ReadAllText(index).Replace("shared_expert", "shared_exbert", StringComparison.Ordinal));
    }

    private static int Replace(Span<byte> span, byte[] from, byte[] to)
    {
        int hits = 0;
        for (int at = span.IndexOf(from); at >= 0; at = span.IndexOf(from))
        {
            to.CopyTo(span[at..]);
            hits++;
        }
        return hits;
    }

    public void Dispose()
    {
        if (Directory.Exists(_directory)) Directory.Delete(_directory, recursive: true);
    }
}
