using System.Text;
using Llama4Cluster.Core.Guidance;
using Llama4Cluster.Core.Sampling;

namespace Llama4Cluster.Core.Tests.Guidance;

/// <summary>The sampler under a constraint: exact for greedy and seeded sampling, stop tokens only where the output may
/// end, and a resumed sequence replays its generated tokens through the grammar.</summary>
public sealed class SamplerGuidanceTests
{
    // ids 0..5 are text; 6 is a stop (special) token with no text.
    private static readonly string?[] Tokens = ["a", "b", "ab", "c", "{", "}", null];
    private const int Eos = 6;

    private static readonly TokenTrie Vocabulary = TokenTrie.Build([.. Tokens.Select(t => t is null ? null : Encoding.UTF8.GetBytes(t))]);

    private static GuidanceMatcher Matcher(GuidanceSpec spec) => new GuidanceEngine(Vocabulary).CreateMatcher(spec);

    [Fact]
    public void GreedyTakesTheBestAllowedTokenAndEndsOnlyWhenComplete()
    {
        var sampler = new Sampler(new SamplingParams(), [Eos], Matcher(GuidanceSpec.Choice(["abc"])));
        float[] logits = [0f, 1f, 2f, 3f, 4f, 5f, 9f]; // the stop token and "}" are the model's favourites
        var generated = new List<int>();
        for (var i = 0; i < 5; i++)
        {
            var token = sampler.Sample(logits, [], generated).TokenId;
            if (sampler.IsStop(token))
            {
                break;
            }

            generated.Add(token);
        }

        Assert.Equal("abc", string.Concat(generated.Select(t => Tokens[t])));
        Assert.Equal(Eos, sampler.Sample(logits, [], generated).TokenId);
    }

    [Fact]
    public void SeededSamplingGivesDisallowedTokensNoProbability()
    {
        var matcher = Matcher(GuidanceSpec.Regex("(a|b)c"));
        var sampler = new Sampler(new SamplingParams { Temperature = 1f, Seed = 3, TopK = 2 }, [Eos], matcher);
        float[] logits = [1f, 1.5f, 8f, 8f, 8f, 8f, 8f];
        var probabilities = new float[logits.Length];
        sampler.ComputeProbabilities(logits, [], [], probabilities);
        Assert.Equal(0f, probabilities[2] + probabilities[3] + probabilities[4] + probabilities[5] + probabilities[6]);
        Assert.Equal(1f, probabilities[0] + probabilities[1], 5);
        Assert.True(probabilities[1] > probabilities[0]); // top-k keeps both allowed ones, softmax among them

        for (var seed = 0; seed < 20; seed++)
        {
            var s = new Sampler(new SamplingParams { Temperature = 1.5f, Seed = seed }, [Eos], Matcher(GuidanceSpec.Regex("(a|b)c")));
            var first = s.Sample(logits, [], []).TokenId;
            Assert.Contains(first, new[] { 0, 1 });
            Assert.Equal(3, s.Sample(logits, [], [first]).TokenId);
            Assert.Equal(Eos, s.Sample(logits, [], [first, 3]).TokenId);
        }
    }

    [Fact]
    public void ASeededGuidedSequenceReproduces()
    {
        var spec = GuidanceSpec.Regex("[abc]{3,6}");
        var random = new Random(1);
        var logits = Enumerable.Range(0, 7).Select(_ => (float)random.NextDouble() * 3).ToArray();
        List<int> Run()
        {
            var s = new Sampler(new SamplingParams { Temperature = 1f, Seed = 42 }, [Eos], Matcher(spec));
            var output = new List<int>();
            for (var t = s.Sample(logits, [], output).TokenId; !s.IsStop(t) && output.Count < 10; t = s.Sample(logits, [], output).TokenId)
            {
                output.Add(t);
            }

            return output;
        }

        var one = Run();
        Assert.Equal(one, Run());
        var text = string.Concat(one.Select(t => Tokens[t]));
        Assert.Matches("^[abc]{3,6}$", text);
    }

    [Fact]
    public void AResumedSequenceReplaysItsGeneratedTokens()
    {
        // After a failover the rank's sampler first sees the tokens generated elsewhere: the grammar advances over them.
        var matcher = Matcher(GuidanceSpec.Choice(["{ab}"]));
        var sampler = new Sampler(new SamplingParams(), [Eos], matcher);
        float[] logits = [5f, 0f, 0f, 0f, 0f, 0f, 9f];
        Assert.Equal(5, sampler.Sample(logits, [], [4, 2]).TokenId); // after "{ab" only "}" fits
        Assert.Equal(2, matcher.Consumed);
    }

    [Fact]
    public void ATokenTheGrammarRefusesInTheHistoryFailsTheSequence()
    {
        var sampler = new Sampler(new SamplingParams(), [Eos], Matcher(GuidanceSpec.Choice(["ab"])));
        Assert.Throws<InvalidOperationException>(() => sampler.Sample([1f, 1f, 1f, 1f, 1f, 1f, 1f], [], [3]));
    }

    [Fact]
    public void GuidanceWithoutAnyStopTokenIsRefused() =>
        Assert.Throws<ArgumentException>(() => new Sampler(new SamplingParams { IgnoreEos = true }, [Eos], Matcher(GuidanceSpec.JsonObject())));

    [Fact]
    public void WithIgnoreEosAStopTokenIdStillEndsTheOutput()
    {
        var sampler = new Sampler(new SamplingParams { IgnoreEos = true, StopTokenIds = [Eos] }, [], Matcher(GuidanceSpec.Choice(["c"])));
        Assert.Equal(Eos, sampler.Sample([0f, 0f, 0f, 0f, 0f, 0f, 0f], [], [3]).TokenId);
    }
}
