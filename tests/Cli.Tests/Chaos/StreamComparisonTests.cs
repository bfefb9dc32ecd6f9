using Llama4Cluster.Cli.Chaos.Report;

namespace Llama4Cluster.Cli.Tests.Chaos;

/// <summary>How <c>llama4 chaos</c> tells a stream that equals the fault-free run from one that lost, repeated or changed tokens.</summary>
public sealed class StreamComparisonTests
{
    private static string[] T(string tokens) => tokens.Split(' ', StringSplitOptions.RemoveEmptyEntries);

    [Fact]
    public void TheSameTokensAreSame()
    {
        var diff = StreamComparison.Compare(T("a b c d"), T("a b c d"));
        Assert.Equal(new StreamDiff(4, 0, 0, 0), diff);
        Assert.True(diff.Same);
    }

    [Fact]
    public void AStreamCutShortLosesTheRest()
    {
        Assert.Equal(new StreamDiff(2, 3, 0, 0), StreamComparison.Compare(T("a b c d e"), T("a b")));
        Assert.Equal(new StreamDiff(0, 3, 0, 0), StreamComparison.Compare(T("a b c"), []));
    }

    [Fact]
    public void SkippedTokensInTheMiddleAreLost()
    {
        Assert.Equal(new StreamDiff(4, 2, 0, 0), StreamComparison.Compare(T("a b c d e f"), T("a b e f")));
    }

    [Fact]
    public void AReplayOfDeliveredTokensIsDuplicated()
    {
        // After a failover the last two tokens come again, then the stream goes on.
        var diff = StreamComparison.Compare(T("a b c d e"), T("a b c b c d e"));
        Assert.Equal(new StreamDiff(5, 0, 2, 0), diff);
        Assert.False(diff.Same);
        // A repeat at the very end (the stream was complete, then sent its last token once more).
        Assert.Equal(new StreamDiff(3, 0, 1, 0), StreamComparison.Compare(T("x y z"), T("x y z z")));
    }

    [Fact]
    public void DifferentTokensAreChangedAndTheOnesTheyReplaceLost()
    {
        Assert.Equal(new StreamDiff(3, 1, 0, 1), StreamComparison.Compare(T("a b c d"), T("a q c d")));
        // A divergence that never comes back: everything after it is changed, the fault-free rest lost.
        Assert.Equal(new StreamDiff(2, 3, 0, 3), StreamComparison.Compare(T("a b c d e"), T("a b x y z")));
    }

    [Fact]
    public void RepetitiveTextStillAlignsExactly()
    {
        // Greedy text of a random tiny model repeats itself: the alignment must not be fooled into a duplicate.
        Assert.True(StreamComparison.Compare(T("a a a b a a"), T("a a a b a a")).Same);
        Assert.Equal(new StreamDiff(6, 0, 1, 0), StreamComparison.Compare(T("a a a b a a"), T("a a a a b a a")));
    }
}
