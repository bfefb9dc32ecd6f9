using System.Globalization;
using System.Net;
using System.Text.Json;
using Llama4Cluster.Gateway.Model;
using Llama4Cluster.Core.Scheduling;
using Llama4Cluster.Gateway.Scheduling;

namespace Llama4Cluster.Gateway.Tests.Api;

[Collection(ApiCollection.Name)]
public sealed class ModelsAndMetricsTests(ApiServerFixture server) : ApiTestBase(server)
{
    private const string Labels = "model_name=\"tiny-scout\"";

    [Fact]
    public async Task Models_ListsTheServedModel()
    {
        using var response = await Server.Client.GetAsync("/v1/models");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;

        Assert.Equal("list", body.GetProperty("object").GetString());
        var model = Assert.Single(body.GetProperty("data").EnumerateArray());
        Assert.Equal(ApiServerFixture.ModelId, model.GetProperty("id").GetString());
        Assert.Equal("model", model.GetProperty("object").GetString());
        Assert.Equal(1_700_000_000, model.GetProperty("created").GetInt64());
        Assert.False(string.IsNullOrEmpty(model.GetProperty("owned_by").GetString()));
        Assert.Equal(ApiServerFixture.MaxModelLength, model.GetProperty("max_model_len").GetInt32());

        using var one = await Server.Client.GetAsync($"/v1/models/{ApiServerFixture.ModelId}");
        Assert.Equal(HttpStatusCode.OK, one.StatusCode);
        Assert.Equal(ApiServerFixture.ModelId, JsonDocument.Parse(await one.Content.ReadAsStringAsync()).RootElement.GetProperty("id").GetString());
    }

    [Fact]
    public async Task Metrics_UseVllmNamesAndCountTheRequests()
    {
        Scheduler.SnapshotValue = new SchedulerSnapshot(Running: 3, Waiting: 2, KvTokens: 50, KvTokenCapacity: 200, Steps: 9);
        var before = await ScrapeAsync();

        var marker = NewMarker("metrics");
        var output = "Hello world! The world is big.";
        Scheduler.On(marker, TextScript(output));
        var (_, body, _) = await PostJsonAsync("/v1/chat/completions", ChatBody(marker));
        var prompt = body.GetProperty("usage").GetProperty("prompt_tokens").GetInt32();
        var completion = body.GetProperty("usage").GetProperty("completion_tokens").GetInt32();
        var lengthMarker = NewMarker("metrics-length");
        Scheduler.On(lengthMarker, TextScript(output));
        await PostJsonAsync("/v1/chat/completions", ChatBody(lengthMarker, ""","max_tokens":2"""));
        var lengthPrompt = Server.ChatPromptLength(lengthMarker);
        var after = await ScrapeAsync();

        Assert.Equal(3, after[$"vllm:num_requests_running{{{Labels}}}"]);
        Assert.Equal(2, after[$"vllm:num_requests_waiting{{{Labels}}}"]);
        Assert.Equal(0.25, after[$"vllm:kv_cache_usage_perc{{{Labels}}}"]);
        Assert.Equal(0.25, after[$"vllm:gpu_cache_usage_perc{{{Labels}}}"]);
        Assert.Equal(prompt + lengthPrompt, Delta("vllm:prompt_tokens_total"));
        Assert.Equal(completion + 2, Delta("vllm:generation_tokens_total"));
        Assert.Equal(1, Delta($"vllm:request_success_total", ",finished_reason=\"stop\""));
        Assert.Equal(1, Delta($"vllm:request_success_total", ",finished_reason=\"length\""));
        Assert.Equal(0, Delta($"vllm:request_success_total", ",finished_reason=\"abort\""));
        Assert.Equal(2, Delta("vllm:time_to_first_token_seconds_count"));
        Assert.Equal(completion, Delta("vllm:inter_token_latency_seconds_count"));
        Assert.Equal(completion, Delta("vllm:time_per_output_token_seconds_count"));
        Assert.Equal(2, Delta("vllm:e2e_request_latency_seconds_count"));
        Assert.Equal(2, Delta("llama4:sequence_max_stall_seconds_count")); // both sequences had more than one token
        Assert.Equal(2, Delta("vllm:e2e_request_latency_seconds_bucket", ",le=\"+Inf\""));
        Assert.Equal(prompt + lengthPrompt, Delta("vllm:request_prompt_tokens_sum"));
        Assert.Equal(completion + 2, Delta("vllm:request_generation_tokens_sum"));
        // The 2-token request falls in the le="2" bucket of the generation-token histogram.
        Assert.True(Delta("vllm:request_generation_tokens_bucket", ",le=\"2\"") >= 1);

        double Delta(string name, string extraLabels = "")
        {
            var key = $"{name}{{{Labels}{extraLabels}}}";
            return after[key] - before[key];
        }
    }

    [Fact]
    public async Task Metrics_TextHasHelpTypeAndCumulativeBuckets()
    {
        using var response = await Server.Anonymous.GetAsync("/metrics");
        Assert.Equal("text/plain", response.Content.Headers.ContentType?.MediaType);
        var text = await response.Content.ReadAsStringAsync();

        foreach (var (name, type) in new[]
                 {
                     ("vllm:num_requests_running", "gauge"), ("vllm:num_requests_waiting", "gauge"),
                     ("vllm:kv_cache_usage_perc", "gauge"), ("vllm:gpu_cache_usage_perc", "gauge"),
                     ("vllm:prompt_tokens_total", "counter"), ("vllm:generation_tokens_total", "counter"),
                     ("vllm:request_success_total", "counter"),
                     ("vllm:time_to_first_token_seconds", "histogram"), ("vllm:inter_token_latency_seconds", "histogram"),
                     ("vllm:time_per_output_token_seconds", "histogram"), ("vllm:e2e_request_latency_seconds", "histogram"),
                     ("vllm:request_prompt_tokens", "histogram"), ("vllm:request_generation_tokens", "histogram"),
                     ("llama4:sequence_max_stall_seconds", "histogram"),
                 })
        {
            Assert.Contains($"\n# HELP {name} ", "\n" + text);
            Assert.Contains($"\n# TYPE {name} {type}\n", "\n" + text);
        }

        // Buckets are cumulative and end with +Inf equal to _count.
        var samples = Parse(text);
        var buckets = samples.Where(s => s.Key.StartsWith("vllm:time_to_first_token_seconds_bucket{", StringComparison.Ordinal)).Select(s => s.Value).ToList();
        Assert.Equal(23, buckets.Count);
        Assert.Equal(buckets.Order(), buckets);
        Assert.Equal(samples[$"vllm:time_to_first_token_seconds_count{{{Labels}}}"], buckets[^1]);
        Assert.Contains($"vllm:request_prompt_tokens_bucket{{{Labels},le=\"200\"}}", text);
        Assert.DoesNotContain("le=\"500\"", text); // 1-2-5 buckets stop at max_model_len (256)
    }

    private async Task<Dictionary<string, double>> ScrapeAsync()
    {
        using var response = await Server.Anonymous.GetAsync("/metrics");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return Parse(await response.Content.ReadAsStringAsync());
    }

    private static Dictionary<string, double> Parse(string text)
    {
        var samples = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (var line in text.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            if (line.StartsWith('#'))
            {
                continue;
            }

            var space = line.LastIndexOf(' ');
            samples.Add(line[..space], double.Parse(line[(space + 1)..], CultureInfo.InvariantCulture));
        }

        return samples;
    }
}
