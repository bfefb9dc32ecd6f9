using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;

namespace Llama4Cluster.Gateway.Tests.Api;

[Collection(ApiCollection.Name)]
public sealed class ApiErrorTests(ApiServerFixture server) : ApiTestBase(server)
{
    private const string Chat = "/v1/chat/completions";
    private const string Completions = "/v1/completions";
    private const string Invalid = "invalid_request_error";
    private const string Messages = """ "messages":[{"role":"user","content":"hi"}] """;

    [Theory]
    [InlineData(Chat, """{"model":"tiny-scout","messages":[{"role":"user","content":"hi"}""", null, null, "not valid JSON")]
    [InlineData(Chat, "[1,2]", null, null, "must be a JSON object")]
    [InlineData(Chat, "", null, null, "empty")]
    [InlineData(Chat, """{"messages":[{"role":"user","content":"hi"}]}""", "model", null, "required")]
    [InlineData(Chat, """{"model":7,"messages":[]}""", "model", null, "string")]
    [InlineData(Chat, """{"model":"tiny-scout"}""", "messages", null, "required")]
    [InlineData(Chat, """{"model":"tiny-scout","messages":[]}""", "messages", null, "at least one")]
    [InlineData(Chat, """{"model":"tiny-scout","messages":"hi"}""", "messages", null, "array")]
    [InlineData(Chat, """{"model":"tiny-scout","messages":["hi"]}""", "messages[0]", null, "object")]
    [InlineData(Chat, """{"model":"tiny-scout","messages":[{"content":"hi"}]}""", "messages[0].role", null, "required")]
    [InlineData(Chat, """{"model":"tiny-scout","messages":[{"role":"user","content":"a"},{"role":"wizard","content":"hi"}]}""", "messages[1].role", null, "wizard")]
    [InlineData(Chat, """{"model":"tiny-scout","messages":[{"role":"user","content":5}]}""", "messages[0].content", null, "a number")]
    [InlineData(Chat, """{"model":"tiny-scout","messages":[{"role":"user"}]}""", "messages[0].content", null, "required")]
    [InlineData(Chat, """{"model":"tiny-scout","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"http://x/y.png"}}]}]}""", "messages[0].content[0]", null, "image input is not supported: model tiny-scout has no vision tower")]
    [InlineData(Chat, """{"model":"tiny-scout","messages":[{"role":"user","content":[{"type":"text","text":"a"},{"type":"input_audio","input_audio":{"data":"","format":"wav"}}]}]}""", "messages[0].content[1]", null, "audio input is not supported")]
    [InlineData(Chat, """{"model":"tiny-scout","messages":[{"role":"user","content":[{"type":"hologram"}]}]}""", "messages[0].content[0].type", null, "hologram")]
    [InlineData(Chat, """{"model":"tiny-scout","messages":[{"role":"user","content":[{"type":"text","text":3}]}]}""", "messages[0].content[0].text", null, "string")]
    [InlineData(Chat, """{"model":"tiny-scout","messages":[{"role":"user","content":"a\ud800b"}]}""", "messages[0].content", null, "surrogate")]
    [InlineData(Chat, """{"model":"tiny-scout","stop":"\udc00",MESSAGES}""", "stop", null, "surrogate")]
    [InlineData(Chat, """{"model":"tiny-scout","temperature":"hot",MESSAGES}""", "temperature", null, "number")]
    [InlineData(Chat, """{"model":"tiny-scout","temperature":-1,MESSAGES}""", "temperature", null, "-1")]
    [InlineData(Chat, """{"model":"tiny-scout","top_p":0,MESSAGES}""", "top_p", null, "(0, 1]")]
    [InlineData(Chat, """{"model":"tiny-scout","top_p":1.5,MESSAGES}""", "top_p", null, "1.5")]
    [InlineData(Chat, """{"model":"tiny-scout","top_k":-2,MESSAGES}""", "top_k", null, "-2")]
    [InlineData(Chat, """{"model":"tiny-scout","top_k":2.5,MESSAGES}""", "top_k", null, "integer")]
    [InlineData(Chat, """{"model":"tiny-scout","min_p":2,MESSAGES}""", "min_p", null, "[0, 1]")]
    [InlineData(Chat, """{"model":"tiny-scout","presence_penalty":3,MESSAGES}""", "presence_penalty", null, "[-2, 2]")]
    [InlineData(Chat, """{"model":"tiny-scout","frequency_penalty":-2.5,MESSAGES}""", "frequency_penalty", null, "[-2, 2]")]
    [InlineData(Chat, """{"model":"tiny-scout","repetition_penalty":0,MESSAGES}""", "repetition_penalty", null, "> 0")]
    [InlineData(Chat, """{"model":"tiny-scout","n":0,MESSAGES}""", "n", null, "[1, 128]")]
    [InlineData(Chat, """{"model":"tiny-scout","n":"2",MESSAGES}""", "n", null, "integer")]
    [InlineData(Chat, """{"model":"tiny-scout","max_tokens":0,MESSAGES}""", "max_tokens", null, ">= 1")]
    [InlineData(Chat, """{"model":"tiny-scout","max_completion_tokens":1e30,MESSAGES}""", "max_completion_tokens", null, "1e30")]
    [InlineData(Chat, """{"model":"tiny-scout","seed":"x",MESSAGES}""", "seed", null, "integer")]
    [InlineData(Chat, """{"model":"tiny-scout","stop":5,MESSAGES}""", "stop", null, "string")]
    [InlineData(Chat, """{"model":"tiny-scout","stop":["a","b","c","d","e"],MESSAGES}""", "stop", null, "at most 4")]
    [InlineData(Chat, """{"model":"tiny-scout","stop":[""],MESSAGES}""", "stop", null, "empty")]
    [InlineData(Chat, """{"model":"tiny-scout","stop_token_ids":[-1],MESSAGES}""", "stop_token_ids", null, "token ids")]
    [InlineData(Chat, """{"model":"tiny-scout","logprobs":"yes",MESSAGES}""", "logprobs", null, "boolean")]
    [InlineData(Chat, """{"model":"tiny-scout","logprobs":true,"top_logprobs":21,MESSAGES}""", "top_logprobs", null, "[0, 20]")]
    [InlineData(Chat, """{"model":"tiny-scout","top_logprobs":2,MESSAGES}""", "top_logprobs", null, "logprobs to be true")]
    [InlineData(Chat, """{"model":"tiny-scout","stream":"yes",MESSAGES}""", "stream", null, "boolean")]
    [InlineData(Chat, """{"model":"tiny-scout","stream_options":{"include_usage":true},MESSAGES}""", "stream_options", null, "stream is true")]
    [InlineData(Chat, """{"model":"tiny-scout","user":5,MESSAGES}""", "user", null, "string")]
    [InlineData(Chat, """{"model":"tiny-scout","response_format":{"type":"xml"},MESSAGES}""", "response_format.type", null, "not supported")]
    [InlineData(Chat, """{"model":"tiny-scout","response_format":"json",MESSAGES}""", "response_format", null, "object")]
    [InlineData(Chat, """{"model":"tiny-scout","response_format":{"type":"json_schema"},MESSAGES}""", "response_format.json_schema", null, "required")]
    [InlineData(Chat, """{"model":"tiny-scout","response_format":{"type":"json_schema","json_schema":{"name":"x"}},MESSAGES}""", "response_format.json_schema.schema", null, "required")]
    [InlineData(Chat, """{"model":"tiny-scout","response_format":{"type":"json_schema","json_schema":{"name":"x","schema":{"type":"object","patternProperties":{"^a":{}}}}},MESSAGES}""", "response_format.json_schema.schema", null, "patternProperties is not supported")]
    [InlineData(Chat, """{"model":"tiny-scout","guided_json":{"type":"string","format":"email"},MESSAGES}""", "guided_json", null, "format \"email\" is not supported")]
    [InlineData(Chat, """{"model":"tiny-scout","guided_json":"{not json",MESSAGES}""", "guided_json", null, "not valid JSON")]
    [InlineData(Chat, """{"model":"tiny-scout","guided_regex":"(?=a)b",MESSAGES}""", "guided_regex", null, "lookaround")]
    [InlineData(Chat, """{"model":"tiny-scout","guided_choice":[],MESSAGES}""", "guided_choice", null, "non-empty array")]
    [InlineData(Chat, """{"model":"tiny-scout","guided_choice":["a"],"guided_regex":"a",MESSAGES}""", "guided_choice", null, "send only one")]
    [InlineData(Chat, """{"model":"tiny-scout","guided_grammar":"root ::= x",MESSAGES}""", "guided_grammar", null, "not supported")]
    [InlineData(Chat, """{"model":"tiny-scout","response_format":{"type":"json_object"},"ignore_eos":true,MESSAGES}""", "ignore_eos", null, "stop token")]
    [InlineData(Chat, """{"model":"tiny-scout","max_tokens":250,MESSAGES}""", "messages", "context_length_exceeded", "This model's maximum context length is 256 tokens. However, you requested ")]
    [InlineData(Completions, """{"model":"tiny-scout"}""", "prompt", null, "required")]
    [InlineData(Completions, """{"model":"tiny-scout","prompt":[]}""", "prompt", null, "empty")]
    [InlineData(Completions, """{"model":"tiny-scout","prompt":[1,99999]}""", "prompt", null, "token ids in [0, 511]")]
    [InlineData(Completions, """{"model":"tiny-scout","prompt":[1,"a"]}""", "prompt", null, "token ids")]
    [InlineData(Completions, """{"model":"tiny-scout","prompt":[[]]}""", "prompt[0]", null, "empty")]
    [InlineData(Completions, """{"model":"tiny-scout","prompt":{"text":"a"}}""", "prompt", null, "an object")]
    [InlineData(Completions, """{"model":"tiny-scout","prompt":"a","logprobs":21}""", "logprobs", null, "[0, 20]")]
    [InlineData(Completions, """{"model":"tiny-scout","prompt":"a","logprobs":1,"echo":true}""", "logprobs", null, "echo")]
    [InlineData(Completions, """{"model":"tiny-scout","prompt":["ok","\ud800"],"echo":true}""", "prompt[1]", null, "surrogate")]
    [InlineData(Completions, """{"model":"tiny-scout","prompt":"a","echo":"yes"}""", "echo", null, "boolean")]
    [InlineData(Completions, """{"model":"tiny-scout","prompt":"a","best_of":3}""", "best_of", null, "not supported")]
    [InlineData(Completions, """{"model":"tiny-scout","prompt":"a","guided_json":{"$ref":"#/$defs/none"}}""", "guided_json", null, "cannot be resolved")]
    [InlineData(Completions, """{"model":"tiny-scout","prompt":"a","guided_regex":"a{3,1}"}""", "guided_regex", null, "min <= max")]
    [InlineData(Completions, """{"model":"tiny-scout","prompt":"a","max_tokens":300}""", "prompt", "context_length_exceeded", "(2 in the prompt, 300 in the completion)")]
    public async Task BadInput_Is400WithAnOpenAiErrorNamingTheParameter(string path, string json, string? param, string? code, string message)
    {
        var (status, body, _) = await PostJsonAsync(path, json.Replace("MESSAGES", Messages, StringComparison.Ordinal));

        Assert.Equal(HttpStatusCode.BadRequest, status);
        AssertError(body, Invalid, param, code, message);
        await AssertServerAnswersAsync();
    }

    [Fact]
    public async Task ContextLengthExceeded_UsesVllmWording()
    {
        var marker = NewMarker("ctx");
        var prompt = Server.ChatPromptLength(marker);
        var (status, body, _) = await PostJsonAsync(Chat, ChatBody(marker, ""","max_tokens":250"""));

        Assert.Equal(HttpStatusCode.BadRequest, status);
        AssertError(body, Invalid, "messages", "context_length_exceeded",
            $"This model's maximum context length is 256 tokens. However, you requested {prompt + 250} tokens ({prompt} in the messages, 250 in the completion). Please reduce the length of the messages or completion.");

        var (longStatus, longBody, _) = await PostJsonAsync(Chat, ChatBody(string.Concat(Enumerable.Repeat("zq ", 300))));
        Assert.Equal(HttpStatusCode.BadRequest, longStatus);
        AssertError(longBody, Invalid, "messages", "context_length_exceeded", "This model's maximum context length is 256 tokens.");
        Assert.Empty(Scheduler.SequencesFor(marker));
    }

    [Fact]
    public async Task UnknownModel_Is404ModelNotFound()
    {
        var (status, body, _) = await PostJsonAsync(Chat, """{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}""");

        Assert.Equal(HttpStatusCode.NotFound, status);
        AssertError(body, Invalid, "model", "model_not_found", "gpt-4o");

        var response = await Server.Client.GetAsync("/v1/models/gpt-4o");
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        AssertError(JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement, Invalid, "model", "model_not_found");
        await AssertServerAnswersAsync();
    }

    [Fact]
    public async Task TooLargeBody_Is413_DeclaredOrChunked()
    {
        var padding = new string('a', (int)ApiServerFixture.MaxBodyBytes);
        var json = ChatBody(padding);

        var (status, body, _) = await PostJsonAsync(Chat, json);
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, status);
        AssertError(body, Invalid, null, "request_too_large", $"{ApiServerFixture.MaxBodyBytes} bytes");

        // No Content-Length: the bound applies while reading.
        using var request = new HttpRequestMessage(HttpMethod.Post, Chat)
        {
            Content = new StreamContent(new MemoryStream(Encoding.UTF8.GetBytes(json))),
        };
        request.Headers.TransferEncodingChunked = true;
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        using var chunked = await Server.Client.SendAsync(request);
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, chunked.StatusCode);
        AssertError(JsonDocument.Parse(await chunked.Content.ReadAsStringAsync()).RootElement, Invalid, null, "request_too_large");
        await AssertServerAnswersAsync();
    }

    [Fact]
    public async Task MissingOrWrongApiKey_Is401_MetricsStayOpen()
    {
        var (status, body, response) = await PostJsonAsync(Chat, ChatBody("hi"), Server.Anonymous);
        Assert.Equal(HttpStatusCode.Unauthorized, status);
        AssertError(body, Invalid, null, "invalid_api_key");
        Assert.Equal("Bearer", response.Headers.WwwAuthenticate.Single().Scheme);

        using var wrong = new HttpRequestMessage(HttpMethod.Get, "/v1/models");
        wrong.Headers.Authorization = new AuthenticationHeaderValue("Bearer", ApiServerFixture.ApiKey + "x");
        using var wrongResponse = await Server.Anonymous.SendAsync(wrong);
        Assert.Equal(HttpStatusCode.Unauthorized, wrongResponse.StatusCode);
        AssertError(JsonDocument.Parse(await wrongResponse.Content.ReadAsStringAsync()).RootElement, Invalid, null, "invalid_api_key");

        using var metrics = await Server.Anonymous.GetAsync("/metrics");
        Assert.Equal(HttpStatusCode.OK, metrics.StatusCode);
        await AssertServerAnswersAsync();
    }

    [Fact]
    public async Task QueueFull_Is429WithRetryAfter()
    {
        var marker = NewMarker("full");
        Scheduler.On(marker, TextScript("x") with { QueueFull = true });

        var (status, body, response) = await PostJsonAsync(Chat, ChatBody(marker));

        Assert.Equal(HttpStatusCode.TooManyRequests, status);
        AssertError(body, "rate_limit_error", null, "rate_limit_exceeded", "retry");
        Assert.Equal(TimeSpan.FromSeconds(3), response.Headers.RetryAfter?.Delta);
        await AssertServerAnswersAsync();
    }

    [Fact]
    public async Task SecondSubmissionRefused_CancelsTheFirst()
    {
        var marker = NewMarker("half");
        Scheduler.On(marker, new FakeScript { Tokens = _ => Server.Encode("x"), Paced = true, End = FakeEnd.Hang });
        var full = NewMarker("half-full");
        Scheduler.On(full, TextScript("x") with { QueueFull = true });

        // Two prompts: the first is accepted, the second refused; the request is 429 and the first is cancelled.
        var (status, _, _) = await PostJsonAsync(Completions, $$"""{"model":"tiny-scout","prompt":["{{marker}}","{{full}}"]}""");

        Assert.Equal(HttpStatusCode.TooManyRequests, status);
        await Assert.Single(Scheduler.SequencesFor(marker)).CancelObserved.Task.WaitAsync(TimeSpan.FromSeconds(30));
    }

    [Theory]
    [InlineData("GET", Chat, HttpStatusCode.MethodNotAllowed, "method_not_allowed")]
    [InlineData("PUT", Completions, HttpStatusCode.MethodNotAllowed, "method_not_allowed")]
    [InlineData("POST", "/v1/models", HttpStatusCode.MethodNotAllowed, "method_not_allowed")]
    [InlineData("DELETE", "/metrics", HttpStatusCode.MethodNotAllowed, "method_not_allowed")]
    [InlineData("POST", "/v1/embeddings", HttpStatusCode.NotFound, "not_found")]
    [InlineData("GET", "/nothing/here.txt", HttpStatusCode.NotFound, "not_found")]
    public async Task WrongMethodOrUnknownPath_Gets405Or404WithAnOpenAiBody(string method, string path, HttpStatusCode expected, string code)
    {
        using var request = new HttpRequestMessage(new HttpMethod(method), path);
        using var response = await Server.Client.SendAsync(request);

        Assert.Equal(expected, response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        AssertError(JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement, Invalid, null, code);
        if (expected == HttpStatusCode.MethodNotAllowed)
        {
            Assert.NotEmpty(response.Content.Headers.Allow);
        }

        await AssertServerAnswersAsync();
    }

    [Fact]
    public async Task ClusterFailure_Is503BeforeStreaming()
    {
        var marker = NewMarker("fail");
        Scheduler.On(marker, TextScript("Hello world") with { End = FakeEnd.Fail, Error = new IOException("attention rank 0 is gone") });

        var (status, body, _) = await PostJsonAsync(Chat, ChatBody(marker));
        Assert.Equal(HttpStatusCode.ServiceUnavailable, status);
        AssertError(body, "server_error", null, "service_unavailable", "attention rank 0 is gone");

        var early = NewMarker("fail-early");
        Scheduler.On(early, new FakeScript { Tokens = _ => [], End = FakeEnd.Fail, Error = new IOException("no silo") });
        var (streamStatus, streamBody, _) = await PostJsonAsync(Chat, ChatBody(early, ""","stream":true"""));
        Assert.Equal(HttpStatusCode.ServiceUnavailable, streamStatus);
        AssertError(streamBody, "server_error", null, "service_unavailable", "no silo");
        await AssertServerAnswersAsync();
    }

    [Fact]
    public async Task ClusterFailure_WhileStreaming_IsAnErrorEventThenDone()
    {
        var marker = NewMarker("fail-stream");
        Scheduler.On(marker, TextScript("Hello world") with { End = FakeEnd.Fail, Error = new IOException("expert shard lost") });

        var (_, reader) = await PostStreamAsync(Chat, ChatBody(marker, ""","stream":true"""));
        var chunks = await reader.ReadAllChunksAsync();

        var error = chunks[^1];
        AssertError(error, "server_error", null, "service_unavailable", "expert shard lost");
        Assert.Equal("Hello world", string.Concat(chunks.SkipLast(1).Select(c =>
            c.GetProperty("choices")[0].GetProperty("delta").TryGetProperty("content", out var t) ? t.GetString() : "")));
        await AssertServerAnswersAsync();
    }

    [Fact]
    public async Task Timeout_Is504()
    {
        var marker = NewMarker("timeout");
        Scheduler.On(marker, TextScript("Hello") with { End = FakeEnd.Fail, Error = new TimeoutException("the request ran past 00:00:01") });

        var (status, body, _) = await PostJsonAsync(Chat, ChatBody(marker));

        Assert.Equal(HttpStatusCode.GatewayTimeout, status);
        AssertError(body, "server_error", null, "timeout", "timed out");
    }
}
