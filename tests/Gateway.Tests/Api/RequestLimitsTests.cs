using System.Net;
using Llama4Cluster.Gateway.Api;

namespace Llama4Cluster.Gateway.Tests.Api;

/// <summary>
/// What one request may carry (<see cref="RequestLimits"/>, defaults): one past a limit is a 400 naming the parameter, the
/// limit itself is served.
/// </summary>
[Collection(ApiCollection.Name)]
public sealed class RequestLimitsTests(ApiServerFixture server) : ApiTestBase(server)
{
    private const string Chat = "/v1/chat/completions";
    private const string Completions = "/v1/completions";

    [Fact]
    public async Task StopTokenIdsBeyondTheLimitAre400()
    {
        var marker = NewMarker("stop-ids");
        Scheduler.On(marker, TextScript("Hello world"));
        string Ids(int count) => $",\"stop_token_ids\":[{string.Join(',', Enumerable.Repeat(7, count))}]";

        var (status, body, _) = await PostJsonAsync(Chat, ChatBody(marker, Ids(RequestLimits.DefaultMaxStopTokenIds + 1)));
        Assert.Equal(HttpStatusCode.BadRequest, status);
        AssertError(body, "invalid_request_error", "stop_token_ids", null, $"at most {RequestLimits.DefaultMaxStopTokenIds} token ids; got 2049");

        var (okStatus, _, _) = await PostJsonAsync(Chat, ChatBody(marker, Ids(RequestLimits.DefaultMaxStopTokenIds)));
        Assert.Equal(HttpStatusCode.OK, okStatus);
        Assert.Equal(RequestLimits.DefaultMaxStopTokenIds, Scheduler.SequencesFor(marker).Single().Submission.Sampling.StopTokenIds.Count);
    }

    [Fact]
    public async Task StopStringsLongerThanTheLimitAre400()
    {
        var marker = NewMarker("stop-len");
        Scheduler.On(marker, TextScript("Hello world"));
        var limit = RequestLimits.DefaultMaxStopStringLength;

        var (status, body, _) = await PostJsonAsync(Chat, ChatBody(marker, $",\"stop\":[\"a\",\"{new string('z', limit + 1)}\"]"));
        Assert.Equal(HttpStatusCode.BadRequest, status);
        AssertError(body, "invalid_request_error", "stop", null, $"at most {limit} characters long; got one of {limit + 1}");

        var (okStatus, _, _) = await PostJsonAsync(Chat, ChatBody(marker, $",\"stop\":\"{new string('z', limit)}\""));
        Assert.Equal(HttpStatusCode.OK, okStatus);
    }

    [Fact]
    public async Task MessagesBeyondTheLimitAre400()
    {
        string Messages(int count) =>
            $$"""{"model":"tiny-scout","messages":[{{string.Join(',', Enumerable.Repeat("""{"role":"user","content":""}""", count))}}]}""";

        var (status, body, _) = await PostJsonAsync(Chat, Messages(RequestLimits.DefaultMaxMessages + 1));
        Assert.Equal(HttpStatusCode.BadRequest, status);
        AssertError(body, "invalid_request_error", "messages", null, $"at most {RequestLimits.DefaultMaxMessages} are accepted");

        // At the limit the messages are read and templated; this tiny model's context is what they exceed.
        var (atLimit, atLimitBody, _) = await PostJsonAsync(Chat, Messages(RequestLimits.DefaultMaxMessages));
        Assert.Equal(HttpStatusCode.BadRequest, atLimit);
        AssertError(atLimitBody, "invalid_request_error", "messages", "context_length_exceeded");
    }

    [Fact]
    public async Task PromptsBeyondTheLimitAre400()
    {
        var marker = NewMarker("prompts");
        Scheduler.On(marker, TextScript("Hi"));
        string Prompts(int count) =>
            $$"""{"model":"tiny-scout","max_tokens":2,"prompt":[{{string.Join(',', Enumerable.Repeat($"\"{marker}\"", count))}}]}""";

        var (status, body, _) = await PostJsonAsync(Completions, Prompts(RequestLimits.DefaultMaxPrompts + 1));
        Assert.Equal(HttpStatusCode.BadRequest, status);
        AssertError(body, "invalid_request_error", "prompt", null, $"at most {RequestLimits.DefaultMaxPrompts} are accepted");

        var (okStatus, okBody, _) = await PostJsonAsync(Completions, Prompts(RequestLimits.DefaultMaxPrompts));
        Assert.Equal(HttpStatusCode.OK, okStatus);
        Assert.Equal(RequestLimits.DefaultMaxPrompts, okBody.GetProperty("choices").GetArrayLength());
    }

    [Fact]
    public async Task PromptsTimesNBeyondTheSequenceLimitIs400NamingN()
    {
        var marker = NewMarker("sequences");
        Scheduler.On(marker, TextScript("Hi"));
        string Request(int prompts, int n) =>
            $$"""{"model":"tiny-scout","max_tokens":2,"n":{{n}},"prompt":[{{string.Join(',', Enumerable.Repeat($"\"{marker}\"", prompts))}}]}""";

        var (status, body, _) = await PostJsonAsync(Completions, Request(3, 100));
        Assert.Equal(HttpStatusCode.BadRequest, status);
        AssertError(body, "invalid_request_error", "n", null, $"would start 300 sequences; at most {RequestLimits.DefaultMaxSequences}");
        Assert.Empty(Scheduler.SequencesFor(marker));

        var (okStatus, okBody, _) = await PostJsonAsync(Completions, Request(2, RequestLimits.DefaultMaxChoices));
        Assert.Equal(HttpStatusCode.OK, okStatus);
        Assert.Equal(2 * RequestLimits.DefaultMaxChoices, okBody.GetProperty("choices").GetArrayLength());
    }

    [Fact]
    public void TheLimitsAreTheDocumentedDefaults()
    {
        var limits = new ApiOptions().Limits;

        Assert.Equal(
            (128, 64, 256, 2048, 4, 256, 2048),
            (limits.MaxChoices, limits.MaxPrompts, limits.MaxSequences, limits.MaxMessages, limits.MaxStopStrings,
                limits.MaxStopStringLength, limits.MaxStopTokenIds));
        var errors = new ApiOptionsValidator().Validate(null, new ApiOptions { Limits = new RequestLimits { MaxSequences = 100, MaxStopTokenIds = 0 } });
        Assert.Equal(
            ["Api:Limits:MaxStopTokenIds is 0: set at least 1.", "Api:Limits:MaxSequences (100) is below MaxChoices (128): a single prompt could not take the largest n; raise it."],
            errors.Failures);
    }
}
