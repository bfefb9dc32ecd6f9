namespace Llama4Cluster.Silos.Tests.Cluster;

/// <summary>
/// Steps larger than the message budget run as several forward passes, each with at most one dispatch per
/// (shard, MoE layer) and no payload over the budget; the logits still match (the equivalence tests of this
/// fixture run under the same small budget).
/// </summary>
[Collection(TinyScoutCluster.Name)]
public sealed class PrefillSplitTests(TinyScoutClusterFixture fixture)
{
    [Fact]
    public async Task ALongPrefillIsSplitSoNoPayloadExceedsTheBudget()
    {
        var tokens = Enumerable.Range(0, 40).Select(i => 3 + (i * 29) % 500).ToArray();
        ShardCallRecorder.Instance.Clear();
        var logits = await fixture.Engine.LogitsAsync(tokens);
        Assert.Equal(tokens.Length, logits.Length);
        var calls = ShardCallRecorder.Instance.Calls;

        Assert.All(calls, c => Assert.True(c.Inputs.Data.Length <= fixture.PayloadBudgetBytes,
            $"a {c.Inputs.Data.Length}-byte dispatch exceeds the {fixture.PayloadBudgetBytes}-byte budget"));
        // fp32 logits of a 512-entry vocabulary are 2 KiB per token: two tokens per 4 KiB pass, 20 passes.
        int passes = calls.Select(c => c.Pass).Distinct().Count();
        Assert.Equal(20, passes);
        foreach (var pass in calls.GroupBy(c => (c.Pass, c.Layer)))
        {
            Assert.Equal(pass.Count(), pass.Select(c => c.Shard).Distinct().Count());
            Assert.Equal(2 * fixture.Config.NumExpertsPerToken, pass.Sum(c => c.Inputs.Rows));
        }
    }
}
