using System.Reflection;
using Llama4Cluster.Cluster.Stepping;
using Llama4Cluster.Contracts.Attention;
using Llama4Cluster.Core.Guidance;
using Llama4Cluster.Core.Vision;
using Llama4Cluster.Core.Sampling;
using Llama4Cluster.Core.Scheduling;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Serialization;

namespace Llama4Cluster.Cluster.Tests.Stepping;

public sealed class StepMessagesTests
{
    /// <summary>Every sampling parameter set to a value other than its default, so a field dropped either way shows.</summary>
    private static readonly SamplingParams s_everything = new()
    {
        Temperature = 0.7f, TopP = 0.9f, TopK = 40, MinP = 0.05f, Seed = 1234, RepetitionPenalty = 1.1f, PresencePenalty = 0.3f,
        FrequencyPenalty = 0.2f, StopTokenIds = [7, 9], IgnoreEos = true, TopLogprobs = 3, MaxTokens = 77,
    };

    [Fact]
    public void EverySamplingParameterSurvivesTheWireBothWays()
    {
        var settings = new SequenceSettings(s_everything, [2, 5], GeneratedTokens: 9);
        var back = StepMessages.FromWire(StepMessages.ToWire(settings));
        Assert.Equal(9, back.GeneratedTokens); // a failover's re-prefill resumes its sampler after these

        // Compare property by property (records with list members do not compare by value).
        foreach (var p in typeof(SamplingParams).GetProperties(BindingFlags.Public | BindingFlags.Instance))
        {
            object? expected = p.GetValue(s_everything), actual = p.GetValue(back.Sampling);
            if (expected is IEnumerable<int> list) Assert.Equal(list, (IEnumerable<int>)actual!);
            else Assert.Equal(expected, actual);
            Assert.NotEqual(p.GetValue(new SamplingParams()) is IEnumerable<int> d ? string.Join(",", d) : p.GetValue(new SamplingParams())?.ToString(),
                expected is IEnumerable<int> e ? string.Join(",", e) : expected?.ToString()); // the test sets every field
        }

        Assert.Equal([2, 5], back.EosTokenIds);
    }

    [Fact]
    public void AStepAndItsResultRoundTrip()
    {
        var step = new RankStep(42, [
            new SequenceWork(1, new[] { 3, 4, 5 }, new SequenceSettings(s_everything, [2]), Sample: true),
            new SequenceWork(2, new[] { 6 }, null, Sample: false, ReturnLogits: true),
        ]);
        var back = StepMessages.FromWire(StepMessages.ToWire(step));
        Assert.Equal(42, back.Step);
        Assert.Equal(2, back.Sequences.Count);
        Assert.Equal([3, 4, 5], back.Sequences[0].Tokens.ToArray());
        Assert.NotNull(back.Sequences[0].Start);
        Assert.True(back.Sequences[0].Sample);
        Assert.Null(back.Sequences[1].Start);
        Assert.True(back.Sequences[1].ReturnLogits);

        var result = new RankStepResult([
            new SequenceSample(1, new SampledToken(11, -0.5f, [new TokenLogprob(11, -0.5f), new TokenLogprob(12, -1.5f)])),
            new SequenceSample(3, new SampledToken(13, null, null)),
            new SequenceSample(4, new SampledToken(14, -0.1f, [])),
        ], [1f, 2f, 3f, 4f, 5f, 6f], LogitRows: 2, Failures: [new SequenceFailure(5, "penalized logit is Infinity")],
            CacheHits: [new PrefixCacheHit(1, 32), new PrefixCacheHit(6, 15)]);
        var wire = StepMessages.ToWire(result);
        Assert.Equal([2L, 3L], wire.Logits!.Shape.ToArray());
        var r = StepMessages.FromWire(wire);
        Assert.Equal([1L, 3L, 4L], r.Samples.Select(s => s.SequenceId));
        Assert.Equal([11, 13, 14], r.Samples.Select(s => s.Token.TokenId));
        Assert.Equal(-0.5f, r.Samples[0].Token.Logprob);
        Assert.Equal([new TokenLogprob(11, -0.5f), new TokenLogprob(12, -1.5f)], r.Samples[0].Token.TopLogprobs!);
        Assert.Null(r.Samples[1].Token.Logprob);
        Assert.Null(r.Samples[1].Token.TopLogprobs); // not asked: no list
        Assert.NotNull(r.Samples[2].Token.TopLogprobs); // asked, none: an empty list
        Assert.Empty(r.Samples[2].Token.TopLogprobs!);
        Assert.Equal([1f, 2f, 3f, 4f, 5f, 6f], r.Logits!);
        Assert.Equal(2, r.LogitRows);
        Assert.Equal([new SequenceFailure(5, "penalized logit is Infinity")], r.Failures!);
        Assert.Equal([new PrefixCacheHit(1, 32), new PrefixCacheHit(6, 15)], r.CacheHits!);
        Assert.Null(StepMessages.FromWire(StepMessages.ToWire(new RankStepResult([]))).Failures); // none: no list
        Assert.Null(StepMessages.FromWire(StepMessages.ToWire(new RankStepResult([]))).CacheHits);
    }

    [Fact]
    public void AWireStartWithoutListsMapsToEmptyOnes()
    {
        var settings = StepMessages.FromWire(new SequenceStart { StopTokenIds = default, EosTokenIds = default });
        Assert.Empty(settings.Sampling.StopTokenIds);
        Assert.Empty(settings.EosTokenIds);
    }

    public static TheoryData<string> GuidanceKinds => new() { "schema", "object", "regex", "choice" };

    private static GuidanceSpec Spec(string kind) => kind switch
    {
        "schema" => GuidanceSpec.JsonSchema("""{"type":"object","properties":{"a":{"type":"integer"}}}"""),
        "object" => GuidanceSpec.JsonObject(),
        "regex" => GuidanceSpec.Regex("[a-z]+\\d"),
        _ => GuidanceSpec.Choice(["yes", "no", "a,b"]),
    };

    [Theory]
    [MemberData(nameof(GuidanceKinds))]
    public void EveryFieldOfTheSettingsSurvivesTheWireAndTheSerializerWithEachGuidanceKind(string kind)
    {
        var settings = new SequenceSettings(s_everything, [2, 5], GeneratedTokens: 3, Guidance: Spec(kind), Images: [Image(1, 1, 0.25f), Image(2, 3, -0.5f)]);
        var serializer = new ServiceCollection().AddSerializer().BuildServiceProvider().GetRequiredService<Serializer>();
        var wire = serializer.Deserialize<SequenceStart>(serializer.SerializeToArray(StepMessages.ToWire(settings)))!;
        var back = StepMessages.FromWire(wire);

        // Every property of SequenceSettings is compared, so one added later and not carried fails here.
        foreach (var p in typeof(SequenceSettings).GetProperties(BindingFlags.Public | BindingFlags.Instance))
        {
            object? expected = p.GetValue(settings), actual = p.GetValue(back);
            switch (expected)
            {
                case SamplingParams sampling:
                    Assert.Equal(sampling with { StopTokenIds = [] }, ((SamplingParams)actual!) with { StopTokenIds = [] });
                    Assert.Equal(sampling.StopTokenIds, ((SamplingParams)actual!).StopTokenIds);
                    break;
                case IEnumerable<int> list:
                    Assert.Equal(list, (IEnumerable<int>)actual!);
                    break;
                case IReadOnlyList<ImageTiles> images:
                    var got = (IReadOnlyList<ImageTiles>)actual!;
                    Assert.Equal(images.Count, got.Count);
                    for (int i = 0; i < images.Count; i++)
                    {
                        Assert.Equal((images[i].TileSize, images[i].Rows, images[i].Columns), (got[i].TileSize, got[i].Rows, got[i].Columns));
                        Assert.Equal(images[i].Pixels, got[i].Pixels);
                        Assert.Equal(images[i].ContentHash, got[i].ContentHash);
                    }

                    break;
                default:
                    Assert.Equal(expected, actual); // GuidanceSpec compares kind, text and choices
                    break;
            }
        }

        Assert.Equal(settings.Guidance!.Choices, back.Guidance!.Choices);
    }

    /// <summary>An image of <paramref name="rows"/> × <paramref name="columns"/> 14-pixel tiles with distinct pixel values.</summary>
    private static ImageTiles Image(int rows, int columns, float offset)
    {
        int tiles = rows * columns + (rows * columns > 1 ? 1 : 0);
        return new ImageTiles(14, rows, columns, Enumerable.Range(0, tiles * 3 * 14 * 14).Select(i => offset + i / 1000f).ToArray());
    }

    [Fact]
    public void NoGuidanceStaysNoneAndAnUnknownKindIsRefused()
    {
        Assert.Null(StepMessages.FromWire(StepMessages.ToWire(new SequenceSettings(s_everything, [2]))).Guidance);
        Assert.Null(StepMessages.FromWire(StepMessages.ToWire(new SequenceSettings(s_everything, [2]))).Images);
        Assert.Throws<ArgumentException>(() => StepMessages.FromWire(new SequenceStart { GuidanceKind = "Grammar" }));
        Assert.Throws<ArgumentException>(() => StepMessages.FromWire(new SequenceStart { GuidanceKind = "7" }));
    }
}
