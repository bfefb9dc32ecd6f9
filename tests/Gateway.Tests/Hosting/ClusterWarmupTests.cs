using System.Net;
using System.Text.Json;
using Llama4Cluster.Gateway.Hosting;

namespace Llama4Cluster.Gateway.Tests.Hosting;

/// <summary>How the warm-up tells a forming cluster (wait) from a grain that cannot load (fail, and say why on /ready).</summary>
public sealed class ClusterWarmupTests : IDisposable
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "l4c-wu-" + Guid.NewGuid().ToString("N")[..12]);

    public void Dispose()
    {
        if (Directory.Exists(_directory)) Directory.Delete(_directory, recursive: true);
    }

    [Fact]
    public void OrleansErrorsWhileFormingAreRetriedOthersAreNot()
    {
        Assert.True(ClusterWarmupService.IsForming(new OrleansException("No active nodes are compatible with grain l4c-attention")));
        Assert.True(ClusterWarmupService.IsForming(new SiloUnavailableException("silo gone")));
        Assert.True(ClusterWarmupService.IsForming(new TimeoutException("response did not arrive")));
        Assert.False(ClusterWarmupService.IsForming(new InvalidDataException("model.safetensors: truncated")));
        Assert.False(ClusterWarmupService.IsForming(new OrleansException("activation failed", new FileNotFoundException("no such file"))));
    }

    [Fact]
    public async Task AGrainThatCannotLoadMakesReadyFailNamingTheError()
    {
        string model = TinyModelCache.Ensure(_directory, TextWriter.Null);
        // The weights file is cut short: config and tokenizer read fine (the gateway starts), the grains cannot load.
        string weights = Directory.GetFiles(model, "*.safetensors").Single();
        using (var stream = new FileStream(weights, FileMode.Open)) stream.SetLength(100);

        await using var gateway = await InProcessGateway.StartAsync(["--model", model, "--dtype", "fp32"]);
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        JsonElement body;
        HttpStatusCode status;
        do
        {
            using var response = await gateway.Http.GetAsync("ready");
            status = response.StatusCode;
            body = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone();
            if (body.GetProperty("status").GetString() == "failed") break;
            Assert.Equal(HttpStatusCode.ServiceUnavailable, status);
            await Task.Delay(100);
        }
        while (DateTime.UtcNow < deadline);

        Assert.Equal(HttpStatusCode.ServiceUnavailable, status);
        Assert.Equal("failed", body.GetProperty("status").GetString());
        Assert.Contains(Path.GetFileName(weights), body.GetProperty("detail").GetString(), StringComparison.Ordinal);
        using var health = await gateway.Http.GetAsync("health");
        Assert.Equal(HttpStatusCode.OK, health.StatusCode);

        // Generation requests are refused with the same reason, in an OpenAI error body.
        using var generate = await gateway.Http.PostAsync("v1/completions",
            new StringContent("{\"model\": \"tiny-scout\", \"prompt\": \"hi\", \"max_tokens\": 2}", System.Text.Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.ServiceUnavailable, generate.StatusCode);
        Assert.Equal("1", generate.Headers.RetryAfter?.ToString());
        var error = JsonDocument.Parse(await generate.Content.ReadAsStringAsync()).RootElement.GetProperty("error");
        Assert.Equal("model_not_ready", error.GetProperty("code").GetString());
        Assert.Contains(Path.GetFileName(weights), error.GetProperty("message").GetString(), StringComparison.Ordinal);
    }
}
