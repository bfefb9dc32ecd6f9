using Llama4Cluster.Cluster.Placement;
using Llama4Cluster.Kernels.Checkpoints;
using Llama4Cluster.Silos.Experts;

namespace Llama4Cluster.Silos.Tests.Cluster;

/// <summary>Each expert shard reads exactly its experts' bytes from the checkpoint, and the shards are spread over the silos.</summary>
[Collection(TinyMaverickCluster.Name)]
public sealed class ExpertSubsetLoadingTests(TinyMaverickClusterFixture fixture)
{
    [Fact]
    public async Task EachShardReadsOnlyItsExpertsBytes()
    {
        var config = fixture.Config;
        var map = new EvenExpertShardMap(config.NumLocalExperts, TinyClusterFixture.ShardsPerLayer);
        var (_, shards) = await fixture.Engine.LoadAsync();
        using var reader = CheckpointReader.Open(fixture.ModelDirectory);
        foreach (var layer in shards.GroupBy(s => s.Layer))
        {
            long all = reader.ExpertBytesOnDisk(layer.Key, Enumerable.Range(0, config.NumLocalExperts).ToArray());
            foreach (var shard in layer)
            {
                Assert.Equal(map.ExpertsOf(shard.Layer, shard.Shard), shard.ExpertIds);
                Assert.Equal(reader.ExpertBytesOnDisk(shard.Layer, shard.ExpertIds), shard.BytesRead);
                Assert.Equal(shard.ExpertBytesOnDisk, shard.BytesRead);
                Assert.True(shard.BytesRead < all);
            }
            Assert.Equal(all, layer.Sum(s => s.BytesRead));
        }
        Assert.Equal(config.MoeLayers.Count(m => m) * TinyClusterFixture.ShardsPerLayer, shards.Count);
        Assert.True(shards.Select(s => s.Silo).Distinct().Count() > 1, "every shard landed on one silo: the test would not cross the network");
    }
}
