using System.Globalization;
using System.Net;
using System.Text.RegularExpressions;
using Llama4Cluster.Cluster.Processes;
using Llama4Cluster.Gateway.Hosting;
using Llama4Cluster.Gateway.Tests.Hosting;
using Llama4Cluster.Tests.Shared;

namespace Llama4Cluster.Gateway.Tests.EndToEnd;

/// <summary>
/// The fault drills' cluster, as a user starts it: a redis-server, two expert silo processes and two attention silo
/// processes with <c>--expert-replicas 2</c> (with one rank, no <c>--ranks</c> flag: the defaults), every silo joined
/// before a gateway process (<c>--redis</c>) places the grains. Silo <c>i</c> can be started again after a kill with the
/// same flags. Disposing kills everything.
/// </summary>
internal sealed partial class DrillCluster : IAsyncDisposable
{
    private static readonly (string Name, string Role)[] Layout = [("expert 0", "expert"), ("expert 1", "expert"), ("attention 0", "attention"), ("attention 1", "attention")];

    private readonly string _model;
    private readonly string _clusterId;
    private readonly int _ranks;
    private readonly int _stages;
    private ChildProcess? _gateway;

    private DrillCluster(RedisServer redis, string model, int ranks, int stages)
    {
        _stages = stages;
        Redis = redis;
        _model = model;
        _ranks = ranks;
        _clusterId = "l4c-drill-" + Guid.NewGuid().ToString("N")[..8];
    }

    public RedisServer Redis { get; }

    /// <summary>The silo processes in <see cref="Layout"/> order (expert 0, expert 1, attention 0, attention 1).</summary>
    public List<ChildProcess> Silos { get; } = new();

    public HttpClient Http { get; private set; } = null!;

    /// <param name="stages">Pipeline stages per rank (<c>--stages</c> on every silo; the gateway learns it from the ranks).</param>
    public static async Task<DrillCluster> StartAsync(GatewayFixture fixture, int ranks, int stages = 1)
    {
        var cluster = new DrillCluster(await RedisServer.StartAsync(), TinyModelCache.ModelDirectory(fixture.CacheDirectory), ranks, stages);
        try
        {
            for (int i = 0; i < Layout.Length; i++) cluster.Silos.Add(cluster.StartSilo(i));
            foreach (var silo in cluster.Silos) await Joined(silo);
            cluster._gateway = ChildProcess.Start("gateway", "dotnet", [
                GatewayBuild.GatewayHost, "--redis", cluster.Redis.Endpoint, "--model", cluster._model, "--cluster-id", cluster._clusterId,
                "--host", "127.0.0.1", "--port", "0", .. cluster.RankFlags(),
            ]);
            string listening = await cluster._gateway.WaitForLineAsync(l => ListeningLine().IsMatch(l), TimeSpan.FromSeconds(90));
            cluster.Http = new HttpClient
            {
                BaseAddress = new Uri(ListeningLine().Match(listening).Groups[1].Value.TrimEnd('/') + "/"), Timeout = TimeSpan.FromMinutes(3),
            };
            await cluster.WaitReadyAsync();
            return cluster;
        }
        catch
        {
            await cluster.DisposeAsync();
            throw;
        }
    }

    /// <summary>Starts silo <paramref name="index"/> again (after it was killed) and waits until it has joined.</summary>
    public async Task RestartAsync(int index)
    {
        Silos[index].Dispose();
        Silos[index] = StartSilo(index);
        await Joined(Silos[index]);
    }

    /// <summary>Everything the gateway process printed so far.</summary>
    public string GatewayOutput => _gateway?.Output ?? "";

    public string Logs() =>
        string.Join("\n", Silos.Append(_gateway).OfType<ChildProcess>().Select(p => $"--- {p.Name} ---\n{p.Tail(40)}"));

    public ValueTask DisposeAsync()
    {
        Http?.Dispose();
        _gateway?.Dispose();
        foreach (var silo in Silos) silo.Dispose();
        Redis.Dispose();
        return ValueTask.CompletedTask;
    }

    private ChildProcess StartSilo(int index) => ChildProcess.Start(Layout[index].Name, "dotnet", [
        GatewayBuild.SiloHost, "--model", _model, "--role", Layout[index].Role, "--redis", Redis.Endpoint, "--cluster-id", _clusterId,
        "--expert-replicas", "2", "--threads", "1", "--parent-pid", Environment.ProcessId.ToString(CultureInfo.InvariantCulture), .. RankFlags(),
        .. (_stages == 1 ? (string[])[] : ["--stages", _stages.ToString(CultureInfo.InvariantCulture)]),
    ]);

    private string[] RankFlags() => _ranks == 1 ? [] : ["--ranks", _ranks.ToString(CultureInfo.InvariantCulture)];

    private static Task Joined(ChildProcess silo) =>
        silo.WaitForLineAsync(l => l.Contains("Orleans Silo started", StringComparison.Ordinal), TimeSpan.FromSeconds(90));

    private async Task WaitReadyAsync()
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(150);
        string last = "";
        while (DateTime.UtcNow < deadline)
        {
            var dead = Silos.Append(_gateway!).FirstOrDefault(p => p.HasExited);
            if (dead is not null) Assert.Fail($"{dead.Name} exited:\n{dead.Output}");
            using var response = await Http.GetAsync("ready");
            last = await response.Content.ReadAsStringAsync();
            if (response.StatusCode == HttpStatusCode.OK) return;
            await Task.Delay(200);
        }

        Assert.Fail($"/ready stayed 503 ({last}):\n" + Logs());
    }

    /// <summary>Kestrel's line, printed as soon as it listens.</summary>
    [GeneratedRegex(@"Now listening on: (http://\S+)")]
    private static partial Regex ListeningLine();
}
