using Llama4Cluster.Cluster.Hosting;
using Llama4Cluster.Cluster.Placement;
using Llama4Cluster.Core.Guidance;
using Llama4Cluster.Kernels.Checkpoints;
using Llama4Cluster.Kernels.Engine;
using Llama4Cluster.Kernels.Model;
using Llama4Cluster.Kernels.Vision;
using Llama4Cluster.Silos.DataPlane;
using Llama4Cluster.Silos.Experts;
using Llama4Cluster.Silos.Model;

namespace Llama4Cluster.Silos.Attention;

/// <summary>
/// What an attention grain runs, loaded on activation: one pipeline stage of rank <see cref="Rank"/> (the whole rank when
/// <see cref="ClusterModelOptions.Stages"/> is 1) — its layers' weights read from the checkpoint and nothing else, the
/// dispatcher to the expert shards of its MoE layers (and, with <c>--shared-experts shards</c>, to their shared-expert shards: the
/// stage then loads no shared expert), its core, and the hand-off to the next stage's grain unless it
/// is the last. Shared by <see cref="AttentionGrain"/> (stage 0) and <see cref="AttentionStageGrain"/>.
/// </summary>
internal sealed class RankStage : IDisposable
{
    private RankStage(int rank, int stage, int stages, AttentionRankCore core, RemoteExpertDispatcher dispatcher, GrainStageLink? next, long bytes,
        VisionTower? vision, TorchSharp.torch.Device device)
    {
        Device = device;
        Vision = vision;
        Rank = rank;
        Stage = stage;
        Stages = stages;
        Core = core;
        Dispatcher = dispatcher;
        Next = next;
        WeightBytes = bytes;
    }

    /// <summary>Where this stage's weights and KV cache live and its layers compute.</summary>
    public TorchSharp.torch.Device Device { get; }

    public int Rank { get; }
    public int Stage { get; }
    public int Stages { get; }
    public AttentionRankCore Core { get; }
    public RemoteExpertDispatcher Dispatcher { get; }

    /// <summary>The hand-off to the next stage; null on the last (or only) stage.</summary>
    public GrainStageLink? Next { get; }

    /// <summary>The checkpoint's vision tower on the first stage (it embeds the prompt); null on later stages and for text-only
    /// checkpoints.</summary>
    public VisionTower? Vision { get; }

    /// <summary>Checkpoint bytes this stage read.</summary>
    public long WeightBytes { get; }

    public static async Task<RankStage> LoadAsync(SiloModelContext context, IGrainFactory grains, DataPlaneClient dataPlane, int rank, int stage,
        CancellationToken cancellationToken)
    {
        var options = context.Options;
        int stages = options.Stages;
        if (stage < 0 || stage >= stages)
            throw new InvalidOperationException($"attention rank {rank} has stages 0 to {stages - 1} (Llama4:Stages); stage {stage} does not exist");
        LayerRange? layers = stages == 1 ? null : LayerRange.Split(context.Config.NumHiddenLayers, stages)[stage];
        IExpertShardTransport transport = options.DataPlane == DataPlaneKind.Tcp
            ? new TcpShardTransport(grains, dataPlane)
            : new OrleansShardTransport(grains);
        var device = context.DeviceFor(PlacementKey.ForAttentionStage(rank, stage));
        var dispatcher = new RemoteExpertDispatcher(rank, transport, context.ShardMap, context.WireDType, context.ComputeDType,
            device, options.ShardTimeout, options.ReplicaTimeout);
        var (model, vision, bytes) = await context.Compute.RunAsync(() =>
        {
            using var reader = CheckpointReader.Open(options.ModelDirectory);
            var source = new CheckpointWeightSource(reader);
            var m = Llama4TextModel.Load(source,
                new ModelOptions
                {
                    ComputeDType = context.ComputeDType, Device = device, Layers = layers, RemoteSharedExperts = context.SharedExpertShards,
                    BatchInvariant = context.Options.BatchInvariant,
                }, dispatcher);
            try
            {
                // The vision tower runs where the prompt is embedded: the rank's first stage.
                var v = m.HoldsEmbeddings ? VisionTower.Load(options.ModelDirectory, source, m.Options) : null;
                return (m, v, reader.BytesRead);
            }
            catch
            {
                m.Dispose();
                throw;
            }
        }, cancellationToken);
        var next = model.HoldsHead ? null : new GrainStageLink(grains, rank, stage + 1, context.WireDType);
        // Structured output: the tokenizer is loaded from the model directory once per rank, on the first guided sequence.
        var core = new AttentionRankCore(model, rank, context.MaxStepTokens, prefixCache: stages == 1 ? options.ToPrefixCacheOptions() : null,
            guidance: GuidanceEngine.ForModelDirectory(options.ModelDirectory, model.Config.VocabSize), next: next, vision: vision);
        return new RankStage(rank, stage, stages, core, dispatcher, next, bytes, vision, device);
    }

    public void Dispose()
    {
        Core.Dispose();
        Core.Model.Dispose();
        Vision?.Dispose();
        Dispatcher.Dispose();
    }
}
