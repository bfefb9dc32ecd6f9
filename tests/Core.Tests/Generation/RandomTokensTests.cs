using Llama4Cluster.Core.Generation;

namespace Llama4Cluster.Core.Tests.Generation;

/// <summary>The benchmarks' random prompts never hold a vision checkpoint's patch token, and a seed gives the same prompt.</summary>
public sealed class RandomTokensTests
{
    [Fact]
    public void ThePatchTokenIsNeverDrawnAndASeedRepeats()
    {
        var ids = RandomTokens.Prompt(new Random(5), 2000, 3, 12, excluded: 11);
        Assert.DoesNotContain(11, ids);
        Assert.All(ids, id => Assert.InRange(id, 3, 10));
        Assert.Equal(8, ids.Distinct().Count());
        Assert.Equal(ids, RandomTokens.Prompt(new Random(5), 2000, 3, 12, excluded: 11));
        Assert.Contains(11, RandomTokens.Prompt(new Random(5), 2000, 3, 12, excluded: null));
        Assert.Throws<ArgumentException>(() => RandomTokens.Next(new Random(1), 4, 5, excluded: 4));
    }
}
