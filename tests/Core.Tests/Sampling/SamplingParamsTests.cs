using Llama4Cluster.Core.Sampling;

namespace Llama4Cluster.Core.Tests.Sampling;

public sealed class SamplingParamsTests
{
    public static TheoryData<string, string, string> InvalidCases => new()
    {
        { "Temperature=-0.1", nameof(SamplingParams.Temperature), ">= 0" },
        { "Temperature=NaN", nameof(SamplingParams.Temperature), ">= 0" },
        { "Temperature=Inf", nameof(SamplingParams.Temperature), ">= 0" },
        { "TopP=0", nameof(SamplingParams.TopP), "(0, 1]" },
        { "TopP=1.01", nameof(SamplingParams.TopP), "(0, 1]" },
        { "TopP=NaN", nameof(SamplingParams.TopP), "(0, 1]" },
        { "TopK=-2", nameof(SamplingParams.TopK), "at least 1" },
        { "MinP=-0.01", nameof(SamplingParams.MinP), "[0, 1]" },
        { "MinP=1.5", nameof(SamplingParams.MinP), "[0, 1]" },
        { "RepetitionPenalty=0", nameof(SamplingParams.RepetitionPenalty), "> 0" },
        { "RepetitionPenalty=Inf", nameof(SamplingParams.RepetitionPenalty), "> 0" },
        { "PresencePenalty=2.5", nameof(SamplingParams.PresencePenalty), "[-2, 2]" },
        { "PresencePenalty=NaN", nameof(SamplingParams.PresencePenalty), "[-2, 2]" },
        { "FrequencyPenalty=-2.5", nameof(SamplingParams.FrequencyPenalty), "[-2, 2]" },
        { "StopTokenIds=[-1]", nameof(SamplingParams.StopTokenIds), ">= 0" },
        { "TopLogprobs=-1", nameof(SamplingParams.TopLogprobs), "0..20" },
        { "TopLogprobs=21", nameof(SamplingParams.TopLogprobs), "0..20" },
        { "MaxTokens=0", nameof(SamplingParams.MaxTokens), "at least 1" },
    };

    [Theory]
    [MemberData(nameof(InvalidCases))]
    public void ValidateRejectsOutOfRangeValuesNamingTheParameterAndRange(string @case, string parameter, string range)
    {
        var parameters = Build(@case);

        var error = Assert.Throws<ArgumentException>(parameters.Validate);

        Assert.Equal(parameter, error.ParamName);
        Assert.StartsWith(parameter, error.Message, StringComparison.Ordinal);
        Assert.Contains(range, error.Message, StringComparison.Ordinal);

        // The constructor validates too.
        Assert.Throws<ArgumentException>(() => new Sampler(parameters, []));
    }

    [Fact]
    public void ValidateRejectsNullStopTokenIds()
    {
        var parameters = new SamplingParams { StopTokenIds = null! };

        var error = Assert.Throws<ArgumentException>(parameters.Validate);

        Assert.Equal(nameof(SamplingParams.StopTokenIds), error.ParamName);
    }

    [Fact]
    public void DefaultsAreValidAndGreedy()
    {
        var parameters = new SamplingParams();

        parameters.Validate();

        Assert.True(parameters.IsGreedy);
        Assert.Equal(16, parameters.MaxTokens);
        Assert.Null(parameters.TopLogprobs);
        Assert.Empty(parameters.StopTokenIds);
    }

    [Fact]
    public void BoundaryValuesAreValid()
    {
        SamplingParams[] valid =
        [
            new() { Temperature = 0f, TopP = 1f, TopK = -1, MinP = 0f },
            new() { Temperature = 2f, TopP = 1e-6f, TopK = 0, MinP = 1f },
            new() { TopK = 1, RepetitionPenalty = 1e-3f, PresencePenalty = -2f, FrequencyPenalty = 2f },
            new() { PresencePenalty = 2f, FrequencyPenalty = -2f, TopLogprobs = 0, MaxTokens = 1 },
            new() { TopLogprobs = 20, StopTokenIds = [0, 7], Seed = long.MinValue },
        ];

        foreach (var parameters in valid)
        {
            parameters.Validate();
        }
    }

    [Fact]
    public void TemperatureBelowVllmEpsilonIsGreedy()
    {
        Assert.True(new SamplingParams { Temperature = 9e-6f }.IsGreedy);
        Assert.False(new SamplingParams { Temperature = 1e-5f }.IsGreedy);
    }

    private static SamplingParams Build(string @case) => @case switch
    {
        "Temperature=-0.1" => new() { Temperature = -0.1f },
        "Temperature=NaN" => new() { Temperature = float.NaN },
        "Temperature=Inf" => new() { Temperature = float.PositiveInfinity },
        "TopP=0" => new() { TopP = 0f },
        "TopP=1.01" => new() { TopP = 1.01f },
        "TopP=NaN" => new() { TopP = float.NaN },
        "TopK=-2" => new() { TopK = -2 },
        "MinP=-0.01" => new() { MinP = -0.01f },
        "MinP=1.5" => new() { MinP = 1.5f },
        "RepetitionPenalty=0" => new() { RepetitionPenalty = 0f },
        "RepetitionPenalty=Inf" => new() { RepetitionPenalty = float.PositiveInfinity },
        "PresencePenalty=2.5" => new() { PresencePenalty = 2.5f },
        "PresencePenalty=NaN" => new() { PresencePenalty = float.NaN },
        "FrequencyPenalty=-2.5" => new() { FrequencyPenalty = -2.5f },
        "StopTokenIds=[-1]" => new() { StopTokenIds = [3, -1] },
        "TopLogprobs=-1" => new() { TopLogprobs = -1 },
        "TopLogprobs=21" => new() { TopLogprobs = 21 },
        "MaxTokens=0" => new() { MaxTokens = 0 },
        _ => throw new ArgumentOutOfRangeException(nameof(@case), @case, "Unknown case."),
    };
}
