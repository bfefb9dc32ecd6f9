using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Llama4Cluster.Gateway.Tests.Api;

/// <summary>Every request field set to every kind of JSON value: the answer is a result or a 4xx OpenAI error, never
/// a 5xx, and the server keeps answering.</summary>
[Collection(ApiCollection.Name)]
public sealed class ApiRobustnessTests(ApiServerFixture server) : ApiTestBase(server)
{
    private static readonly string[] Fields =
    [
        "model", "messages", "prompt", "max_tokens", "max_completion_tokens", "temperature", "top_p", "top_k", "min_p",
        "seed", "stop", "n", "logprobs", "top_logprobs", "presence_penalty", "frequency_penalty", "repetition_penalty",
        "ignore_eos", "stop_token_ids", "stream", "stream_options", "user", "best_of", "echo", "logit_bias",
        "response_format", "skip_special_tokens", "include_stop_str_in_output", "add_special_tokens", "min_tokens",
        "use_beam_search", "suffix", "guided_json", "guided_regex", "guided_choice", "guided_grammar",
    ];

    private static readonly string[] Values =
    [
        "null", "true", "false", "0", "1", "-1", "2.5", "1e308", "-1e308", "9223372036854775808", "\"\"", "\"x\"",
        "[]", "[1]", "[\"a\"]", "[[1]]", "[{}]", "{}", "{\"type\":\"text\"}", "{\"include_usage\":\"y\"}",
        "[{\"role\":\"user\",\"content\":[{\"type\":\"text\"}]}]",
    ];

    [Fact]
    public async Task NoFieldValue_EverGets5xx()
    {
        var marker = NewMarker("robust");
        Scheduler.On(marker, TextScript("Hello world"));
        var chat = JsonNode.Parse(ChatBody(marker, ""","max_tokens":4"""))!.AsObject();
        var completion = JsonNode.Parse($$"""{"model":"tiny-scout","prompt":"{{marker}}","max_tokens":4}""")!.AsObject();
        var answered = 0;
        foreach (var (path, template) in new[] { ("/v1/chat/completions", chat), ("/v1/completions", completion) })
        {
            foreach (var field in Fields)
            {
                foreach (var value in Values)
                {
                    var body = template.DeepClone().AsObject();
                    body[field] = JsonNode.Parse(value);
                    using var response = await PostAsync(path, body.ToJsonString());
                    using var deadline = new CancellationTokenSource(SseReader.Budget);
                    var text = await response.Content.ReadAsStringAsync(deadline.Token);
                    var status = (int)response.StatusCode;
                    Assert.True(status < 500, $"{path} {field}={value}: {status} {text}");
                    if (status >= 400)
                    {
                        var error = JsonDocument.Parse(text).RootElement.GetProperty("error");
                        Assert.Equal(JsonValueKind.String, error.GetProperty("message").ValueKind);
                        Assert.Equal(JsonValueKind.String, error.GetProperty("type").ValueKind);
                    }
                    else if (response.Content.Headers.ContentType?.MediaType == "text/event-stream")
                    {
                        Assert.EndsWith("data: [DONE]\n\n", text);
                        Assert.DoesNotContain("\"error\"", text);
                    }
                    else
                    {
                        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
                        Assert.True(JsonDocument.Parse(text).RootElement.TryGetProperty("choices", out _));
                    }

                    answered++;
                }
            }
        }

        Assert.Equal(2 * Fields.Length * Values.Length, answered);
        await AssertServerAnswersAsync();
    }
}
