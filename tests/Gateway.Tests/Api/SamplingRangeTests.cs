using System.Net;

namespace Llama4Cluster.Gateway.Tests.Api;

/// <summary>
/// The float sampling parameters: vLLM's ranges (checked by <c>SamplingParams.Validate</c>) and the 32-bit floats they are
/// held in. A value outside either is a 400 naming the parameter; extreme values inside both are passed on unchanged.
/// </summary>
[Collection(ApiCollection.Name)]
public sealed class SamplingRangeTests(ApiServerFixture server) : ApiTestBase(server)
{
    private const string Chat = "/v1/chat/completions";

    [Theory]
    [InlineData("repetition_penalty", "1e-50", "a number > 0 (1 disables it) that a 32-bit float holds")]
    [InlineData("repetition_penalty", "1e39", "got 1e39")]
    [InlineData("temperature", "1e39", "a number >= 0 (0 is greedy decoding) that a 32-bit float holds")]
    [InlineData("top_p", "1e-50", "a number in (0, 1] that a 32-bit float holds")]
    [InlineData("min_p", "-1e-300", "got -1e-300")]
    [InlineData("presence_penalty", "-4e38", "a number in [-2, 2] that a 32-bit float holds")]
    [InlineData("frequency_penalty", "1e400", "a number in [-2, 2]; got 1e400")]
    [InlineData("repetition_penalty", "-0.5", "repetition_penalty must be a finite number > 0")]
    [InlineData("top_p", "0", "top_p must be in (0, 1]")]
    public async Task FloatParametersOutsideTheirRangeOrFp32Are400(string field, string value, string message)
    {
        var (status, body, _) = await PostJsonAsync(Chat, ChatBody("hi", $",\"{field}\":{value}"));

        Assert.Equal(HttpStatusCode.BadRequest, status);
        AssertError(body, "invalid_request_error", field, null, message);
    }

    [Theory]
    [InlineData("repetition_penalty", "1e-45", 1.4e-45f)]
    [InlineData("repetition_penalty", "1e-30", 1e-30f)]
    [InlineData("repetition_penalty", "1e30", 1e30f)]
    [InlineData("repetition_penalty", "3.4e38", 3.4e38f)]
    [InlineData("temperature", "1e-5", 1e-5f)]
    [InlineData("temperature", "3e38", 3e38f)]
    [InlineData("top_p", "1e-45", 1.4e-45f)]
    [InlineData("presence_penalty", "-2", -2f)]
    [InlineData("frequency_penalty", "2", 2f)]
    public async Task ExtremeInRangeValuesAreServedAsGiven(string field, string value, float expected)
    {
        var marker = NewMarker("extreme");
        Scheduler.On(marker, TextScript("Hello world"));

        var (status, _, _) = await PostJsonAsync(Chat, ChatBody(marker, $",\"{field}\":{value}"));

        Assert.Equal(HttpStatusCode.OK, status);
        var sampling = Scheduler.SequencesFor(marker).Single().Submission.Sampling;
        var forwarded = field switch
        {
            "repetition_penalty" => sampling.RepetitionPenalty,
            "temperature" => sampling.Temperature,
            "top_p" => sampling.TopP,
            "presence_penalty" => sampling.PresencePenalty,
            _ => sampling.FrequencyPenalty,
        };
        Assert.Equal(expected, forwarded);
    }
}
