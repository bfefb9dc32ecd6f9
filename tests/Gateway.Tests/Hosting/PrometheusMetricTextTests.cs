using Llama4Cluster.ServiceDefaults;

namespace Llama4Cluster.Gateway.Tests.Hosting;

/// <summary>The Prometheus names of OpenTelemetry instruments in <c>/metrics</c> (the project's <c>llama4:</c> namespace, vLLM's style).</summary>
public sealed class PrometheusMetricTextTests
{
    [Theory]
    [InlineData("llama4.expert_tokens", "{token}", true, "llama4:expert_tokens_total")]
    [InlineData("llama4.expert_compute_seconds", "s", false, "llama4:expert_compute_seconds")]
    [InlineData("llama4.dispatch_bytes", "By", true, "llama4:dispatch_bytes_total")]
    [InlineData("llama4.kv_cache_bytes", "By", false, "llama4:kv_cache_bytes")]
    [InlineData("dotnet.gc.collections", "{collection}", true, "dotnet_gc_collections_total")]
    [InlineData("http.server.request.duration", "s", false, "http_server_request_duration_seconds")]
    [InlineData("orleans-messaging-sent-bytes", "By", true, "orleans_messaging_sent_bytes_total")]
    public void InstrumentNamesBecomePrometheusNames(string instrument, string unit, bool counter, string expected) =>
        Assert.Equal(expected, PrometheusMetricText.Name(instrument, unit, counter));
}
