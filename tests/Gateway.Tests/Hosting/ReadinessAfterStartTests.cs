using System.Net;
using System.Text;
using System.Text.Json;
using Llama4Cluster.Contracts.Experts;
using Llama4Cluster.Gateway.Hosting;
using Microsoft.Extensions.DependencyInjection;

namespace Llama4Cluster.Gateway.Tests.Hosting;

/// <summary>
/// <c>GET /ready</c> follows the cluster after start, both ways, on the one-command gateway (co-hosted silo, tiny model) whose
/// readiness probe the test can make hang or fail for one rank or shard (it asks the real grains otherwise).
/// </summary>
public sealed class ReadinessAfterStartTests : IAsyncLifetime
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "l4c-rd-" + Guid.NewGuid().ToString("N")[..12]);
    private InProcessGateway _gateway = null!;
    private ScriptedClusterProbe _probe = null!;

    public async Task InitializeAsync()
    {
        string model = TinyModelCache.Ensure(_directory, TextWriter.Null);
        _gateway = await InProcessGateway.StartAsync(["--model", model, "--dtype", "fp32"], configure: builder =>
        {
            // Through configuration, as an operator would set them (Gateway__Readiness__Interval=...).
            builder.Configuration["Gateway:Readiness:Interval"] = "00:00:00.100";
            builder.Configuration["Gateway:Readiness:Timeout"] = "00:00:00.500";
            builder.Configuration["Gateway:Readiness:BusyGrace"] = "00:00:00.200";
            builder.Services.AddSingleton<IClusterProbe>(sp => new ScriptedClusterProbe(new GrainClusterProbe(sp.GetRequiredService<IGrainFactory>())));
        });
        await _gateway.WaitReadyAsync();
        _probe = (ScriptedClusterProbe)_gateway.App.Services.GetRequiredService<IClusterProbe>();
    }

    public async Task DisposeAsync()
    {
        await _gateway.DisposeAsync();
        if (Directory.Exists(_directory)) Directory.Delete(_directory, recursive: true);
    }

    [Fact]
    public async Task ReadyTurns503NamingWhatIsMissingAndBackTo200WhenItAnswersAgain()
    {
        var ready = await ReadyAsync();
        Assert.Equal((HttpStatusCode.OK, "ready"), (ready.Status, ready.Body.GetProperty("status").GetString()));
        Assert.Equal(0, ready.Body.GetProperty("missing").GetArrayLength());
        var broken = System.Diagnostics.Stopwatch.StartNew();

        _probe.Hang(0);
        _probe.Fail(new ExpertShardKey(3, 1), new InvalidOperationException("expert shard 3/1 lost its weights"));
        var down = await PollAsync(r => r.Status == HttpStatusCode.ServiceUnavailable);
        // Found by the periodic checks (every 0.1 s, 0.5 s timeout), not by /ready's own check of a stale state (after 5 s).
        Assert.True(broken.Elapsed < TimeSpan.FromSeconds(5), $"503 only after {broken.Elapsed}");
        Assert.Equal("unavailable", down.Body.GetProperty("status").GetString());
        Assert.Equal(["attention rank 0", "expert shard 3/1"], down.Body.GetProperty("missing").EnumerateArray().Select(e => e.GetString()));
        Assert.Equal((0, 7), (down.Body.GetProperty("attention_ranks_loaded").GetInt32(), down.Body.GetProperty("expert_shards_loaded").GetInt32()));
        string detail = down.Body.GetProperty("detail").GetString()!;
        Assert.Contains("attention rank 0: no answer within 0.5 s", detail, StringComparison.Ordinal);
        Assert.Contains("expert shard 3/1: InvalidOperationException: expert shard 3/1 lost its weights", detail, StringComparison.Ordinal);

        // After start, a failed check does not block requests: the real rank serves this one.
        using var generate = await _gateway.Http.PostAsync("v1/completions", new StringContent(
            "{\"model\": \"tiny-scout\", \"prompt\": \"hi\", \"max_tokens\": 2, \"temperature\": 0}", Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.OK, generate.StatusCode);

        _probe.Heal();
        var up = await PollAsync(r => r.Status == HttpStatusCode.OK);
        Assert.Equal("ready", up.Body.GetProperty("status").GetString());
        Assert.Equal(0, up.Body.GetProperty("missing").GetArrayLength());
        Assert.Equal((1, 8), (up.Body.GetProperty("attention_ranks_loaded").GetInt32(), up.Body.GetProperty("expert_shards_loaded").GetInt32()));
    }

    [Fact]
    public async Task TheChecksKeepRunningAfterStart()
    {
        var first = CheckedAt(await ReadyAsync());
        await Task.Delay(500);
        var second = CheckedAt(await ReadyAsync());

        Assert.True(second > first, $"checked_at stayed {first}");
        Assert.True(DateTimeOffset.UtcNow - second < TimeSpan.FromSeconds(5), $"checked_at {second} is stale");
    }

    private static DateTimeOffset CheckedAt((HttpStatusCode Status, JsonElement Body) answer) =>
        answer.Body.GetProperty("checked_at").GetDateTimeOffset();

    private async Task<(HttpStatusCode Status, JsonElement Body)> ReadyAsync()
    {
        using var response = await _gateway.Http.GetAsync("ready");
        return (response.StatusCode, JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone());
    }

    private async Task<(HttpStatusCode Status, JsonElement Body)> PollAsync(Func<(HttpStatusCode Status, JsonElement Body), bool> until)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        var last = await ReadyAsync();
        while (!until(last))
        {
            Assert.True(DateTime.UtcNow < deadline, $"/ready stayed {(int)last.Status} {last.Body}");
            await Task.Delay(50);
            last = await ReadyAsync();
        }
        return last;
    }
}
