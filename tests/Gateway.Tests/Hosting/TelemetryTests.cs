using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text.Json;
using Llama4Cluster.Gateway.Tests.EndToEnd;
using Llama4Cluster.ServiceDefaults;
using Microsoft.Extensions.DependencyInjection;

namespace Llama4Cluster.Gateway.Tests.Hosting;

/// <summary>
/// Traces and metrics of a real request through the one-command gateway: one trace from the HTTP span through the scheduler's
/// step, the Orleans call to the attention grain and its rank step, each MoE layer's dispatch, over the socket data plane, to
/// the expert shard's compute; <c>/metrics</c> gains the expert-load series beside vLLM's. The waits only guard against a hang.
/// </summary>
public sealed class TelemetryTests(TelemetryFixture fixture) : IClassFixture<TelemetryFixture>
{
    private static readonly TimeSpan HangGuard = TimeSpan.FromSeconds(30);

    private InProcessGateway Gateway => fixture.Gateway;

    [Fact]
    public async Task ARequestIsOneTraceFromItsHttpSpanToTheExpertShards()
    {
        // The request is sent inside a span of the test's own, whose trace id it carries to the server: the exporter also
        // records the requests of other tests' gateways running in parallel in this process (some of them rejected before
        // they reach a scheduler), so the latest /v1/completions span need not be this one.
        using var testSource = new ActivitySource("Llama4Cluster.Tests.Telemetry");
        ActivityTraceId traceId;
        using (var root = testSource.StartActivity("test.request"))
        {
            Assert.NotNull(root);
            traceId = root.TraceId;
            var result = await CompletionsHttp.CompleteAsync(Gateway.Http, CompletionsHttp.Body("tiny-scout", [1, 2, 3, 4], maxTokens: 3, stream: false));
            Assert.Equal(3, result.CompletionTokens);
        }

        var http = await WaitForAsync(() => fixture.Spans.Snapshot().FirstOrDefault(s => s.TraceId == traceId &&
            s.Kind == ActivityKind.Server && s.Source.Name == "Microsoft.AspNetCore" && (s.GetTagItem("url.path") as string) == "/v1/completions"));
        var trace = fixture.Spans.Snapshot().Where(s => s.TraceId == traceId).ToArray();
        var byId = trace.ToDictionary(s => s.SpanId);

        // Every step of the request, each a descendant of the HTTP span.
        foreach (var (source, name) in new[]
                 {
                     ("Llama4Cluster.Core", "scheduler.step"), ("Llama4Cluster.Kernels", "rank.step"),
                     ("Llama4Cluster.Silos", "moe.dispatch"), ("Llama4Cluster.Silos", "dataplane.serve"), ("Llama4Cluster.Silos", "expert.compute"),
                 })
        {
            var spans = trace.Where(s => s.Source.Name == source && s.OperationName == name).ToArray();
            Assert.True(spans.Length > 0, $"no {name} span in the request's trace; it has: {string.Join(", ", trace.Select(s => s.OperationName).Distinct())}");
            Assert.All(spans, s => Assert.True(DescendsFrom(s, http, byId), $"{name} {s.SpanId} does not descend from the HTTP span"));
        }

        // The attention grain's Orleans call sits between the step and the rank's work.
        var rankStep = trace.First(s => s.OperationName == "rank.step");
        var chain = Ancestors(rankStep, byId).Select(s => s.Source.Name).ToArray();
        Assert.Contains(chain, name => name.StartsWith("Microsoft.Orleans", StringComparison.Ordinal));
        Assert.Contains("Llama4Cluster.Core", chain);
        // A shard's compute is the child of the data-plane request that carried the dispatch's context across the socket.
        var compute = trace.First(s => s.OperationName == "expert.compute");
        Assert.Equal("dataplane.serve", byId[compute.ParentSpanId].OperationName);
        Assert.Equal("moe.dispatch", byId[byId[compute.ParentSpanId].ParentSpanId].OperationName);
    }

    [Fact]
    public async Task MetricsGainExpertTokensDispatchAndKvSeriesAfterARequest()
    {
        var before = ExpertTokens(await Gateway.Http.GetStringAsync("metrics"));
        await CompletionsHttp.CompleteAsync(Gateway.Http, CompletionsHttp.Body("tiny-scout", [5, 6, 7], maxTokens: 2, stream: false));
        string text = await Gateway.Http.GetStringAsync("metrics");
        var after = ExpertTokens(text);

        // tiny-scout routes each token to one expert (top-1) in each of its 4 MoE layers: the 3 prompt tokens, then the first
        // generated one (the second is sampled, never fed back), in each layer.
        Assert.True(after - before >= 4 * 4, $"expert tokens grew by {after - before}");
        Assert.Contains("\n# TYPE llama4:expert_tokens_total counter\n", text);
        // Label order carries no meaning in Prometheus; OpenTelemetry writes a point's tags sorted by key.
        Assert.Matches(@"\nllama4:expert_tokens_total\{expert=""\d+"",layer=""\d+""\} \d+\n", text);
        Assert.Contains("\n# TYPE llama4:expert_compute_seconds histogram\n", text);
        Assert.Contains("\n# TYPE llama4:expert_queue_seconds histogram\n", text);
        Assert.Contains("\n# TYPE llama4:dispatch_seconds histogram\n", text);
        Assert.Contains("\nllama4:dispatch_bytes_total{direction=\"sent\"} ", text);
        Assert.Matches(@"\nllama4:kv_cache_bytes\{rank=""0""\} \d+\n", text);
        // The vLLM series come first and unchanged (ModelsAndMetricsTests checks them one by one).
        Assert.StartsWith("# HELP vllm:", text, StringComparison.Ordinal);
        // Prometheus refuses a scrape with a series twice: every name-and-labels is one sample.
        var series = text.Split('\n', StringSplitOptions.RemoveEmptyEntries).Where(l => !l.StartsWith('#')).Select(l => l[..l.LastIndexOf(' ')]).ToArray();
        Assert.Equal(series.Length, series.Distinct(StringComparer.Ordinal).Count());
    }

    [Fact]
    public async Task TheOrleansDashboardServesItsPageAndTheClustersStatistics()
    {
        var dashboard = Gateway.App.Services.GetRequiredService<DashboardEndpoint>();
        Assert.NotNull(dashboard.Address);
        using var http = new HttpClient { BaseAddress = dashboard.Address, Timeout = HangGuard };

        using var page = await http.GetAsync("");
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        Assert.Equal("text/html", page.Content.Headers.ContentType?.MediaType);
        // The dashboard's API reads the cluster through its grains (services forwarded from the gateway's host).
        // Its counters are collected periodically: right after start they may not count the silo yet, so ask until they do.
        var deadline = DateTime.UtcNow + HangGuard;
        int hosts;
        while (true)
        {
            using var stats = await http.GetAsync("DashboardCounters");
            string body = await stats.Content.ReadAsStringAsync();
            Assert.True(stats.StatusCode == HttpStatusCode.OK, $"{(int)stats.StatusCode} {body}");
            hosts = JsonDocument.Parse(body).RootElement.GetProperty("totalActiveHostCount").GetInt32();
            if (hosts != 0 || DateTime.UtcNow > deadline) break;
            await Task.Delay(200);
        }
        Assert.Equal(1, hosts);
    }

    private static double ExpertTokens(string text) => text.Split('\n')
        .Where(line => line.StartsWith("llama4:expert_tokens_total{", StringComparison.Ordinal))
        .Sum(line => double.Parse(line[(line.LastIndexOf(' ') + 1)..], CultureInfo.InvariantCulture));

    private static bool DescendsFrom(Activity span, Activity ancestor, Dictionary<ActivitySpanId, Activity> byId) =>
        Ancestors(span, byId).Any(a => a.SpanId == ancestor.SpanId);

    private static IEnumerable<Activity> Ancestors(Activity span, Dictionary<ActivitySpanId, Activity> byId)
    {
        var current = span;
        while (current.ParentSpanId != default && byId.TryGetValue(current.ParentSpanId, out var parent))
        {
            yield return parent;
            current = parent;
        }
    }

    private static async Task<T> WaitForAsync<T>(Func<T?> find) where T : class
    {
        var deadline = DateTime.UtcNow + HangGuard;
        while (DateTime.UtcNow < deadline)
        {
            if (find() is { } found) return found;
            await Task.Delay(50);
        }
        throw new TimeoutException("the span did not arrive");
    }
}
