using Llama4Cluster.Gateway.Api;

namespace Llama4Cluster.Gateway.Tests.Api;

public sealed class StopStringMatcherTests
{
    [Fact]
    public void WithoutStopStrings_TextPassesThrough()
    {
        var matcher = new StopStringMatcher([], includeStop: false);
        Assert.Equal(("abc", (string?)null), matcher.Add("abc"));
        Assert.Equal(string.Empty, matcher.Flush());
    }

    [Fact]
    public void PossibleStart_IsHeldBack_AndReleasedWhenItCannotMatch()
    {
        var matcher = new StopStringMatcher(["END"], includeStop: false);
        Assert.Equal(("hello ", (string?)null), matcher.Add("hello E"));
        Assert.Equal(("", (string?)null), matcher.Add("N"));
        Assert.Equal(("ENx", (string?)null), matcher.Add("x"));
        Assert.Equal(("", (string?)null), matcher.Add("EN"));
        Assert.Equal("EN", matcher.Flush());
    }

    [Fact]
    public void MatchAcrossPieces_CutsBeforeTheStop_OrAfterItWhenIncluded()
    {
        var cut = new StopStringMatcher(["lo wo"], includeStop: false);
        Assert.Equal(("Hel", (string?)null), cut.Add("Hello"));
        Assert.Equal(("", "lo wo"), cut.Add(" world"));

        var kept = new StopStringMatcher(["lo wo"], includeStop: true);
        kept.Add("Hello");
        Assert.Equal(("lo wo", "lo wo"), kept.Add(" world"));
    }

    [Fact]
    public void EarliestMatchWins_AmongSeveralStops()
    {
        var matcher = new StopStringMatcher(["world", "o w"], includeStop: false);
        Assert.Equal(("hell", "o w"), matcher.Add("hello world"));
    }

    [Fact]
    public void OverlappingPrefixes_AreAllHeldUntilResolved()
    {
        var matcher = new StopStringMatcher(["aab"], includeStop: false);
        Assert.Equal(("x", (string?)null), matcher.Add("xaa"));
        Assert.Equal(("a", (string?)null), matcher.Add("a"));
        Assert.Equal(("", "aab"), matcher.Add("b"));
    }
}
