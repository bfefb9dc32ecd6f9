using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using Llama4Cluster.Cli.Chaos.Report;
using Llama4Cluster.Cli.Cluster;
using Llama4Cluster.Cli.Serving;
using Llama4Cluster.Cli.Ui;

namespace Llama4Cluster.Cli.Chaos;

/// <summary>
/// <c>llama4 chaos</c>: starts a <see cref="ChaosCluster"/>, runs the greedy streams once fault-free, again while
/// <see cref="ChaosFaults"/> injects the scenario's fault at a seeded point (a number of tokens received across the
/// streams), and once more after it, and judges every stream against the fault-free run of its prompt.
/// </summary>
internal sealed class ChaosDrill
{
    private readonly ChaosSettings _s;
    private readonly Random _random;
    private readonly DrillLog _log = new();
    private ChaosCluster _cluster = null!;
    private ChaosStreamClient _client = null!;
    private string _model = "";
    private int[][] _prompts = [];

    private ChaosDrill(ChaosSettings settings)
    {
        _s = settings;
        _random = new Random(settings.Seed);
    }

    public static async Task<ChaosReport> RunAsync(ChaosSettings settings, CancellationToken cancellationToken)
    {
        var drill = new ChaosDrill(settings);
        var options = new ChaosClusterOptions
        {
            ModelDirectory = settings.ModelDirectory, AttentionSilos = settings.AttentionSilos, ExpertSilos = settings.ExpertSilos,
            ShardsPerLayer = settings.ShardsPerLayer, Replicas = settings.Replicas, ThreadsPerSilo = settings.ThreadsPerSilo,
            DistinctAddresses = settings.DistinctAddresses, StartTimeout = settings.StartTimeout,
        };
        using var cluster = await ChaosCluster.StartAsync(options, drill._log.Write, cancellationToken);
        using var client = new ChaosStreamClient(cluster.GatewayUrl, settings.StreamTimeout);
        drill._cluster = cluster;
        drill._client = client;
        // Ctrl+C kills the cluster: the streams it breaks then are no finding; the drill stops instead.
        using var interruptible = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, cluster.Interrupted);
        var report = await drill.RunCoreAsync(interruptible.Token);
        interruptible.Token.ThrowIfCancellationRequested(); // streams broken by the interruption are not a result
        return report;
    }

    private async Task<ChaosReport> RunCoreAsync(CancellationToken cancellationToken)
    {
        var watch = Stopwatch.StartNew();
        await new ChaosFaults(_cluster, _client, _s, _random, _log.Write).WaitReadyAsync("the gateway's /ready", cancellationToken);
        await DescribeModelAsync(cancellationToken);
        _log.Write(string.Create(CultureInfo.InvariantCulture, $"chaos: cluster ready at {_cluster.GatewayUrl} after {watch.Elapsed.TotalSeconds:F1} s; " +
            $"{_s.Streams} greedy streams of {_s.MaxTokens} tokens (prompts of {_s.PromptTokens} token ids, seed {_s.Seed})"));
        var setup = new ChaosSetup
        {
            Scenario = _s.Scenario, Seed = _s.Seed, Streams = _s.Streams, Replicas = _s.Replicas, AttentionSilos = _s.AttentionSilos,
            ExpertSilos = _s.ExpertSilos, PromptTokens = _s.PromptTokens, MaxTokens = _s.MaxTokens,
        };

        var baselineRecords = await RunRoundAsync(ChaosRound.FaultFree, null, cancellationToken);
        var baseline = ChaosRound.Reference(baselineRecords);
        if (baseline.Bad > 0)
        {
            string error = baseline.Results.First(r => r.Bad).Record.Error ?? "incomplete";
            return new ChaosReport(setup, [baseline], [$"the fault-free round failed ({error}): no fault was injected"]);
        }

        var notes = new List<string>();
        var (fault, faultAt, faults) = await RunFaultRoundAsync(baselineRecords, notes, cancellationToken);
        setup = setup with { Fault = faults.Description, FaultAtTokens = faultAt, FaultError = faults.Error };
        if (faults.Error is not null) notes.Add("the fault's action failed: " + faults.Error);
        var after = ChaosRound.Judge(ChaosRound.After, await RunRoundAsync(ChaosRound.After, null, cancellationToken), baselineRecords);
        if (fault.ExpectedLosses > 0)
            notes.Add($"{fault.ExpectedLosses} stream(s) in flight on the killed gateway were lost by design (a gateway's own streams die with it); not counted as failures");
        return new ChaosReport(setup, [baseline, fault, after], notes);
    }

    /// <summary>The fault round: the fault's action starts once the streams have received a seeded number of tokens together.</summary>
    private async Task<(ChaosRound Round, int FaultAt, ChaosFaults Faults)> RunFaultRoundAsync(IReadOnlyList<StreamRecord> baseline, List<string> notes,
        CancellationToken cancellationToken)
    {
        int total = baseline.Sum(r => r.Tokens.Count);
        int threshold = Math.Max(1, _random.Next(total / 5, total / 2 + 1)), faultAt = 0;
        var faults = new ChaosFaults(_cluster, _client, _s, _random, _log.Write);
        Task? action = null;
        int started = 0;
        void OnTokens(int received)
        {
            if (received >= threshold && Interlocked.Exchange(ref started, 1) == 0)
            {
                faultAt = received;
                _log.Write($"chaos: injecting {_s.Scenario.Name()} after {received} tokens");
                action = Task.Run(() => faults.InjectAsync(cancellationToken), cancellationToken);
            }
        }

        await using var observer = ClusterObserver.Start(_client);
        Func<bool>? keepGoing = _s.Scenario == ChaosScenario.RollingRestart ? () => Volatile.Read(ref action) is not { IsCompleted: true } : null;
        Func<double>? progress = _s.Scenario == ChaosScenario.RollingRestart ? () => faults.RestartsDone / (double)faults.RestartsTotal : null;
        var records = await RunRoundAsync(ChaosRound.Fault, OnTokens, cancellationToken, keepGoing, progress);
        if (Interlocked.Exchange(ref started, 1) == 0)
        {
            faultAt = records.Sum(r => r.Tokens.Count);
            notes.Add($"the streams ended with {faultAt} tokens, before the fault point ({threshold}): the fault was injected after them");
            _log.Write("chaos: the streams ended before the fault point: injecting the fault now");
            action = faults.InjectAsync(cancellationToken);
        }
        try
        {
            await action!;
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            faults.Error = e.Message.ReplaceLineEndings(" ");
            _log.Write($"chaos: the fault's action failed: {faults.Error}");
        }
        // Keep watching until the gateway answers ready again (bounded): the time to heal is read from these samples.
        var watch = Stopwatch.StartNew();
        if (await observer.WaitReadyAsync(faults.InjectedAt, TimeSpan.FromSeconds(60), cancellationToken))
            _log.Write(string.Create(CultureInfo.InvariantCulture, $"chaos: the gateway is ready {watch.Elapsed.TotalSeconds:F1} s after the fault round"));
        else
            notes.Add("the gateway was not ready within 60 s after the fault round; the round after it ran anyway");
        var samples = await observer.StopAsync();
        Func<StreamRecord, bool>? byDesign = _s.Scenario == ChaosScenario.KillGateway ? r => r.RunningAt(faults.InjectedAt) : null;
        return (ChaosRound.Judge(ChaosRound.Fault, records, baseline, faults.InjectedAt, samples, byDesign), faultAt, faults);
    }

    /// <summary>The served model's name and the vocabulary the prompts are drawn from.</summary>
    private async Task DescribeModelAsync(CancellationToken cancellationToken)
    {
        var models = await _client.GetAsync("v1/models", TimeSpan.FromSeconds(10), cancellationToken);
        var info = await _client.GetAsync("info", TimeSpan.FromSeconds(10), cancellationToken);
        using var modelsJson = System.Text.Json.JsonDocument.Parse(models?.Body ?? "{}");
        _model = ServedModelCard.ParseList(modelsJson.RootElement.Clone()).FirstOrDefault()?.Id
                 ?? throw new ClusterStartException("GET /v1/models named no model");
        using var infoJson = System.Text.Json.JsonDocument.Parse(info?.Body ?? "{}");
        var gateway = GatewayInfo.Parse(infoJson.RootElement.Clone());
        // Never the image patch token: a prompt holding it without images is refused, which is no fault of the drill's.
        var source = new RandomPromptSource(gateway.VocabularySize ?? 256, _s.Seed, gateway.PatchTokenId());
        _prompts = [.. Enumerable.Range(0, _s.Streams).Select(_ => source.Next(_s.PromptTokens))];
    }

    /// <summary>Runs every stream at once (with <paramref name="keepGoing"/>, each prompt again as long as it says so).</summary>
    private async Task<List<StreamRecord>> RunRoundAsync(string name, Action<int>? onTotal, CancellationToken cancellationToken,
        Func<bool>? keepGoing = null, Func<double>? progress = null)
    {
        int received = 0;
        double expected = (double)_s.Streams * _s.MaxTokens;
        var records = new ConcurrentBag<StreamRecord>();
        async Task Slot(int stream)
        {
            for (int pass = 0; ; pass++)
            {
                int seen = 0;
                var record = await _client.StreamAsync(_model, _prompts[stream], _s.MaxTokens, stream, pass, count =>
                {
                    int total = Interlocked.Add(ref received, count - seen);
                    seen = count;
                    onTotal?.Invoke(total);
                }, cancellationToken);
                records.Add(record);
                if (keepGoing is null || !keepGoing()) return;
                if (!record.Completed) await Task.Delay(500, cancellationToken); // no storm of failing requests
            }
        }

        var watch = Stopwatch.StartNew();
        await _log.WithProgressAsync($"chaos: {name} round", () => progress?.Invoke() ?? Volatile.Read(ref received) / expected,
            () => Task.WhenAll(Enumerable.Range(0, _s.Streams).Select(Slot)));
        var list = records.OrderBy(r => r.Stream).ThenBy(r => r.Pass).ToList();
        _log.Write(string.Create(CultureInfo.InvariantCulture,
            $"chaos: {name} round: {list.Count(r => r.Completed)} of {list.Count} streams completed, {Volatile.Read(ref received)} tokens, {watch.Elapsed.TotalSeconds:F1} s"));
        foreach (var failure in list.Where(r => r.Error is not null).GroupBy(r => r.Error).Take(3))
            _log.Write($"chaos: {name} round: {failure.Count()} × {failure.Key}");
        return list;
    }
}
