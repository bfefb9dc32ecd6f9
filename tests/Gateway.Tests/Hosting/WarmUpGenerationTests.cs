using System.Text;
using System.Text.Json;
using Llama4Cluster.Cluster.Stepping;
using Llama4Cluster.Core.Generation;
using Llama4Cluster.Core.Scheduling;
using Llama4Cluster.Gateway.Hosting;
using Microsoft.Extensions.DependencyInjection;

namespace Llama4Cluster.Gateway.Tests.Hosting;

/// <summary>
/// The gateway's compile warm-up (<c>Gateway:Readiness:WarmUpGeneration</c>) on the one-command gateway (co-hosted silo, tiny
/// model): with it on, the throwaway sequence has run through the real rank before <c>/ready</c> turns 200, and it is not
/// counted as a request or as tokens; with it off, no step runs before the first request.
/// </summary>
public sealed class WarmUpGenerationTests : IAsyncLifetime
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "l4c-wu-" + Guid.NewGuid().ToString("N")[..12]);
    private string _model = null!;

    public Task InitializeAsync()
    {
        _model = TinyModelCache.Ensure(_directory, TextWriter.Null);
        return Task.CompletedTask;
    }

    public Task DisposeAsync()
    {
        if (Directory.Exists(_directory)) Directory.Delete(_directory, recursive: true);
        return Task.CompletedTask;
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task TheWarmUpRunsBeforeReadyAndCountsNoRequest(bool warmUp)
    {
        CountingStepBackend? counting = null;
        await using var gateway = await InProcessGateway.StartAsync(["--model", _model, "--dtype", "fp32"], configure: builder =>
        {
            builder.Configuration["Gateway:Readiness:WarmUpGeneration"] = warmUp ? "true" : "false";
            builder.Services.AddSingleton<IStepBackend>(sp =>
                counting = new CountingStepBackend(new ClusterStepBackend(sp.GetRequiredService<IGrainFactory>(), attentionRanks: 1)));
        });
        await gateway.WaitReadyAsync();

        Assert.NotNull(counting);
        if (warmUp)
        {
            // One prefill pass of the 40-token prompt and its decode steps, answered by the rank; then released.
            Assert.True(counting.Steps >= 3, $"{counting.Steps} steps before ready");
            Assert.Equal(WarmUpRequests.PromptTokens + 2, counting.Tokens);
            Assert.Equal(1, counting.Released);
        }
        else
        {
            Assert.Equal(0, counting.Steps);
        }

        string metrics = await gateway.Http.GetStringAsync("metrics");
        Assert.Equal("0", Sample(metrics, "vllm:prompt_tokens_total"));
        Assert.Equal("0", Sample(metrics, "vllm:generation_tokens_total"));

        // The first request is served as ever.
        using var response = await gateway.Http.PostAsync("v1/completions", new StringContent(
            "{\"model\": \"tiny-scout\", \"prompt\": \"hi\", \"max_tokens\": 3, \"temperature\": 0}", Encoding.UTF8, "application/json"));
        using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal(3, body.RootElement.GetProperty("usage").GetProperty("completion_tokens").GetInt32());
    }

    /// <summary>The value of the one sample of <paramref name="name"/> in Prometheus text.</summary>
    private static string Sample(string metrics, string name) =>
        metrics.Split('\n').Single(l => l.StartsWith(name + "{", StringComparison.Ordinal) || l.StartsWith(name + " ", StringComparison.Ordinal))
            .Split(' ')[^1];

    /// <summary>Counts the steps, the tokens fed to the rank and the sequences released, passing every call through.</summary>
    private sealed class CountingStepBackend(IStepBackend inner) : IStepBackend
    {
        private int _steps, _tokens, _released;

        public int Steps => Volatile.Read(ref _steps);

        public int Tokens => Volatile.Read(ref _tokens);

        public int Released => Volatile.Read(ref _released);

        public int Ranks => inner.Ranks;

        public async Task<RankStepResult> StepAsync(int rank, RankStep step, CancellationToken cancellationToken)
        {
            var result = await inner.StepAsync(rank, step, cancellationToken);
            Interlocked.Increment(ref _steps);
            Interlocked.Add(ref _tokens, step.Sequences.Sum(s => s.Tokens.Length));
            return result;
        }

        public async Task ReleaseAsync(int rank, IReadOnlyList<long> sequenceIds)
        {
            await inner.ReleaseAsync(rank, sequenceIds);
            Interlocked.Add(ref _released, sequenceIds.Count);
        }

        public Task ProbeAsync(int rank, CancellationToken cancellationToken) => inner.ProbeAsync(rank, cancellationToken);
    }
}
