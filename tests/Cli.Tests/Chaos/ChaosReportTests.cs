using System.Diagnostics;
using System.Text.Json;
using Llama4Cluster.Cli.Chaos.Report;

namespace Llama4Cluster.Cli.Tests.Chaos;

/// <summary>The rounds, the table and the JSON of <c>llama4 chaos</c>, from recorded stream data: identical, lost and
/// duplicated streams, stalls, the time to detect and to heal, and the verdict.</summary>
public sealed class ChaosReportTests
{
    private const long Start = 1_000_000;

    /// <summary>Ticks at <paramref name="ms"/> milliseconds after <see cref="Start"/>.</summary>
    private static long At(double ms) => Start + (long)(ms * Stopwatch.Frequency / 1000);

    /// <summary>A stream of one token per event, event i at <paramref name="times"/>[i] ms; completed unless an error is given.</summary>
    private static StreamRecord Stream(int index, string tokens, double[] times, string? error = null, int pass = 0, double end = -1)
    {
        var record = new StreamRecord(index, pass, At(0));
        var list = tokens.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        for (int i = 0; i < list.Length; i++) record.AddTokens(At(times[i]), [list[i]], list[i]);
        double last = end >= 0 ? end : times.Length == 0 ? 1 : times[list.Length - 1] + 1;
        if (error is null)
        {
            record.SetFinishReason("length");
            record.SetUsage(list.Length);
            record.Complete(At(last));
        }
        else
        {
            record.Fail(At(last), error);
        }
        return record;
    }

    private static readonly double[] Even = [10, 20, 30, 40, 50, 60];

    private static List<StreamRecord> Baseline() => [Stream(0, "a b c d", Even), Stream(1, "p q r s", Even)];

    private static ChaosSetup Setup(ChaosScenario scenario) => new()
    {
        Scenario = scenario, Seed = 7, Streams = 2, Replicas = 1, AttentionSilos = 2, ExpertSilos = 2, PromptTokens = 16, MaxTokens = 4,
        Fault = "SIGKILL of expert 1 (pid 42)", FaultAtTokens = 3,
    };

    [Fact]
    public void IdenticalStreamsPassAndStallsAreTheLargestGaps()
    {
        var baseline = Baseline();
        // Stream 1 stalls 400 ms across the fault at 25 ms, then finishes with the same tokens.
        var run = new List<StreamRecord> { Stream(0, "a b c d", Even), Stream(1, "p q r s", [10, 20, 420, 430]) };
        var round = ChaosRound.Judge(ChaosRound.Fault, run, baseline, At(25));
        Assert.Equal(2, round.Identical);
        Assert.Equal(0, round.Bad);
        Assert.Equal(0.4, round.MaxStallSeconds, 3);
        Assert.Equal(0.4, round.FaultStallSeconds!.Value, 3);
        Assert.Equal(0.01, round.Results[0].MaxStallSeconds, 3);
        var report = new ChaosReport(Setup(ChaosScenario.KillExpert), [ChaosRound.Reference(baseline), round]);
        Assert.True(report.Passed);
        Assert.Equal(["fault", "2", "2", "2", "0", "0", "0", "400", "400", "-", "395"], report.Rows()[1]);
    }

    [Fact]
    public void LostDuplicatedAndFailedStreamsFailTheDrill()
    {
        var baseline = Baseline();
        var run = new List<StreamRecord>
        {
            Stream(0, "a b c b c d", Even),                                 // a replay: 2 duplicated
            Stream(1, "p q", [10, 20], error: "error event: The model cluster failed to generate", end: 30), // cut: 2 lost
        };
        var round = ChaosRound.Judge(ChaosRound.Fault, run, baseline, At(25));
        Assert.Equal(0, round.Identical);
        Assert.Equal(1, round.Completed);
        Assert.Equal(2, round.Bad);
        Assert.Equal(2, round.Lost);
        Assert.Equal(2, round.Duplicated);
        Assert.Equal(0, round.Changed);
        var report = new ChaosReport(Setup(ChaosScenario.KillExpert), [ChaosRound.Reference(baseline), round]);
        Assert.False(report.Passed);
        // The failed stream is the first sign of the fault: 5 ms after it.
        Assert.Equal(0.005, round.DetectSeconds!.Value, 4);
    }

    [Fact]
    public void SameTokensWithADifferentCountOrTextAreNotIdentical()
    {
        var baseline = Baseline();
        var other = Stream(0, "a b c d", Even);
        other.SetUsage(5); // usage disagrees with the tokens
        var round = ChaosRound.Judge(ChaosRound.After, [other, Stream(1, "p q r s", Even)], baseline);
        Assert.Equal(1, round.Identical);
        Assert.Equal(1, round.Bad);
    }

    [Fact]
    public void AKilledGatewaysOwnStreamsAreLostByDesignAndDoNotFail()
    {
        var baseline = Baseline();
        long fault = At(25);
        var run = new List<StreamRecord>
        {
            Stream(0, "a b", [10, 20], error: "the connection broke", end: 26),
            Stream(1, "p q", [10, 20], error: "the connection broke", end: 26),
        };
        var round = ChaosRound.Judge(ChaosRound.Fault, run, baseline, fault, [], r => r.RunningAt(fault));
        Assert.Equal(2, round.ExpectedLosses);
        Assert.Equal(0, round.Bad);
        Assert.Equal(0, round.Lost);
        Assert.Equal(4, round.LostByDesign);
        var after = ChaosRound.Judge(ChaosRound.After, Baseline(), baseline);
        var report = new ChaosReport(Setup(ChaosScenario.KillGateway), [ChaosRound.Reference(baseline), round, after], ["lost by design"]);
        Assert.True(report.Passed);
        Assert.Equal("0 (2 lost by design)", report.Rows()[1][2]);
        Assert.Equal("0 (+4 by design)", report.Rows()[1][4]);
    }

    [Fact]
    public void DetectAndHealComeFromReadinessAndTheFailoverCounters()
    {
        long fault = At(100);
        string Metrics(double failovers) => $"# TYPE llama4:failovers_total counter\nllama4:failovers_total {failovers}\nllama4:attention_ranks_up 2\n";
        var samples = new List<ClusterSample>
        {
            ClusterSample.From(At(50), 200, Metrics(0)),
            ClusterSample.From(At(150), 200, Metrics(0)),
            ClusterSample.From(At(250), 200, Metrics(3)),  // the failover shows: detected at 150 ms
            ClusterSample.From(At(350), 503, Metrics(3)),
            ClusterSample.From(At(450), null, null),       // no answer
            ClusterSample.From(At(900), 200, Metrics(3)),  // ready again: healed at 800 ms
        };
        Assert.Equal(0.15, FaultTiming.DetectSeconds(fault, samples, [])!.Value, 3);
        Assert.Equal(0.8, FaultTiming.HealSeconds(fault, samples, [])!.Value, 3);
        // A stream that was running at the fault and got its next token later than that heals later.
        var slow = Stream(0, "a b", [90, 1_300]);
        Assert.Equal(1.2, FaultTiming.HealSeconds(fault, samples, [slow])!.Value, 3);
        // Ready flaps back to 503 later (a rolling restart): healed only after the last such stretch.
        var flapping = samples.Concat([ClusterSample.From(At(1_000), 503, Metrics(3)), ClusterSample.From(At(1_600), 200, Metrics(3))]).ToList();
        Assert.Equal(1.5, FaultTiming.HealSeconds(fault, flapping, [])!.Value, 3);
        // Nothing observed: no figure.
        Assert.Null(FaultTiming.DetectSeconds(fault, [ClusterSample.From(At(50), 200, Metrics(0)), ClusterSample.From(At(150), 200, Metrics(0))], []));
        Assert.Null(FaultTiming.HealSeconds(fault, [ClusterSample.From(At(150), 503, null)], []));
    }

    [Fact]
    public void MetricsAreSummedOverLabelsAndMatchedByWholeName()
    {
        const string text = "# HELP x\nllama4:failovers_total 2\nllama4:failovers_total_extra 100\nvllm:x{a=\"1\"} 3\nvllm:x{a=\"2\"} 4.5\n";
        Assert.Equal(2, ClusterSample.Metric(text, "llama4:failovers_total"));
        Assert.Equal(7.5, ClusterSample.Metric(text, "vllm:x"));
        Assert.Null(ClusterSample.Metric(text, "llama4:attention_ranks_up"));
        Assert.Null(ClusterSample.Metric(null, "vllm:x"));
    }

    [Fact]
    public void JsonCarriesTheFaultRoundsFiguresAndEveryStream()
    {
        var baseline = Baseline();
        var run = new List<StreamRecord> { Stream(0, "a b c d", Even), Stream(1, "p q r", [10, 20, 30], error: "HTTP 503: no", end: 31) };
        var fault = ChaosRound.Judge(ChaosRound.Fault, run, baseline, At(25));
        var report = new ChaosReport(Setup(ChaosScenario.KillExpert), [ChaosRound.Reference(baseline), fault], ["a note"]);
        using var doc = JsonDocument.Parse(report.ToJson());
        var root = doc.RootElement;
        Assert.Equal("kill-expert", root.GetProperty("scenario").GetString());
        Assert.False(root.GetProperty("passed").GetBoolean());
        Assert.Equal(2, root.GetProperty("streams").GetInt32());
        Assert.Equal(1, root.GetProperty("completed").GetInt32());
        Assert.Equal(1, root.GetProperty("identical").GetInt32());
        Assert.Equal(1, root.GetProperty("lost_tokens").GetInt32());
        Assert.Equal(0, root.GetProperty("duplicated_tokens").GetInt32());
        Assert.Equal(10, root.GetProperty("max_stall_ms").GetDouble());
        Assert.Equal(6, root.GetProperty("detect_ms").GetDouble());
        Assert.Equal(5, root.GetProperty("heal_ms").GetDouble()); // stream 0's first token after the fault
        var rounds = root.GetProperty("rounds").EnumerateArray().ToArray();
        Assert.Equal(["fault-free", "fault"], rounds.Select(r => r.GetProperty("round").GetString()));
        var streams = rounds[1].GetProperty("stream_details").EnumerateArray().ToArray();
        Assert.Equal("HTTP 503: no", streams[1].GetProperty("error").GetString());
        Assert.Equal(3, streams[1].GetProperty("tokens").GetInt32());
        Assert.Equal(4, streams[1].GetProperty("expected_tokens").GetInt32());
        Assert.True(streams[0].GetProperty("identical").GetBoolean());
        Assert.Equal("a note", root.GetProperty("notes")[0].GetString());
    }

    [Fact]
    public void ChunksAreReadTokenByToken()
    {
        var record = new StreamRecord(0, 0, At(0));
        Assert.Null(ChunkReader.Read("""{"choices":[{"index":0,"text":"ab","logprobs":{"tokens":["a","b"],"token_logprobs":[-1,-2]},"finish_reason":null}]}""", record, At(5)));
        Assert.Null(ChunkReader.Read("""{"choices":[{"index":0,"text":"","logprobs":{"tokens":[]},"finish_reason":"length"}]}""", record, At(6)));
        Assert.Null(ChunkReader.Read("""{"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":2,"total_tokens":5}}""", record, At(7)));
        Assert.Equal(["a", "b"], record.Tokens);
        Assert.Single(record.EventTimestamps); // two tokens, one event
        Assert.Equal("ab", record.Text);
        Assert.Equal(2, record.CompletionTokens);
        Assert.Equal("length", record.FinishReason);
        Assert.StartsWith("error event: boom", ChunkReader.Read("""{"error":{"message":"boom"}}""", record, At(8)));
        Assert.Contains("no logprobs.tokens", ChunkReader.Read("""{"choices":[{"text":"x","logprobs":null}]}""", record, At(9)));
        Assert.Contains("not JSON", ChunkReader.Read("nope", record, At(9)));
    }
}
