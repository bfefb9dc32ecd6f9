using Llama4Cluster.Core.Sampling;

namespace Llama4Cluster.Core.Tests.Sampling;

/// <summary>Quickselect against a full sort, on keys with heavy ties (the total order breaks them by id).</summary>
public sealed class TokenSelectionTests
{
    [Theory]
    [InlineData(1, 1)]
    [InlineData(2, 1000)]
    [InlineData(3, 5000)]
    public void SelectKthMatchesSortedOrder(int seed, int length)
    {
        var keys = TiedKeys(seed, length);
        var sorted = SortedIds(keys);

        foreach (var k in new[] { 1, 2, length / 3, length - 1, length }.Where(k => k >= 1 && k <= length).Distinct())
        {
            var ids = Enumerable.Range(0, length).ToArray();

            var kth = TokenSelection.SelectKth(ids, keys, k);

            Assert.Equal(sorted[k - 1], kth);
            Assert.Equal(sorted.Take(k).Order(), ids.Take(k).Order());
        }
    }

    [Fact]
    public void SelectKthHandlesSortedAndReversedInput()
    {
        var descending = Enumerable.Range(0, 2000).Select(i => (float)(2000 - i)).ToArray();
        var ascending = Enumerable.Range(0, 2000).Select(i => (float)i).ToArray();

        Assert.Equal(99, TokenSelection.SelectKth(Enumerable.Range(0, 2000).ToArray(), descending, 100));
        Assert.Equal(1900, TokenSelection.SelectKth(Enumerable.Range(0, 2000).ToArray(), ascending, 100));
    }

    [Theory]
    [InlineData(4, 0.5)]
    [InlineData(5, 0.9)]
    [InlineData(6, 0.01)]
    [InlineData(7, 1.0)]
    public void SelectNucleusMatchesSortedPrefix(int seed, double p)
    {
        var weights = TiedKeys(seed, 3000).Select(k => k + 0.01f).ToArray();
        var sorted = SortedIds(weights);
        var total = weights.Sum(w => (double)w);
        var cumulative = 0.0;
        var expected = sorted[^1];
        foreach (var id in sorted)
        {
            cumulative += weights[id];
            if (cumulative >= p * total)
            {
                expected = id;
                break;
            }
        }

        var boundary = TokenSelection.SelectNucleus(Enumerable.Range(0, weights.Length).ToArray(), weights, p * total);

        Assert.Equal(expected, boundary);
    }

    [Fact]
    public void SelectNucleusKeepsEverythingWhenRoundingFallsShort()
    {
        float[] weights = [0.25f, 0.5f, 0.25f];

        Assert.Equal(2, TokenSelection.SelectNucleus(new[] { 0, 1, 2 }, weights, 1.5));
    }

    private static float[] TiedKeys(int seed, int length)
    {
        var random = new Random(seed);
        return [.. Enumerable.Range(0, length).Select(_ => (float)random.Next(0, 20) / 4f)];
    }

    private static int[] SortedIds(float[] keys) =>
        [.. Enumerable.Range(0, keys.Length).OrderByDescending(i => keys[i]).ThenBy(i => i)];
}
