using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Llama4Cluster.Cli.Chaos.Report;

/// <summary>What a drill ran: the cluster, the workload and the fault as injected.</summary>
public sealed record ChaosSetup
{
    public required ChaosScenario Scenario { get; init; }
    public required int Seed { get; init; }
    public required int Streams { get; init; }
    public required int Replicas { get; init; }
    public required int AttentionSilos { get; init; }
    public required int ExpertSilos { get; init; }
    public required int PromptTokens { get; init; }
    public required int MaxTokens { get; init; }

    /// <summary>What was done, e.g. <c>SIGKILL of expert 1 (pid 1234)</c>; empty before the fault.</summary>
    public string Fault { get; init; } = "";

    /// <summary>Tokens received across the streams of the fault round when the fault was injected.</summary>
    public int FaultAtTokens { get; init; }

    /// <summary>Why the fault's action could not be carried out to its end (a process that would not start again); fails the drill.</summary>
    public string? FaultError { get; init; }
}

/// <summary>
/// A drill's outcome: its rounds (fault-free, with the fault, after it), the table and the JSON <c>llama4 chaos</c> prints,
/// and the verdict: it passes when every fault-free stream completed and no stream of the later rounds failed, changed,
/// lost or duplicated a token, except those lost by design (a killed gateway's own in-flight streams).
/// </summary>
public sealed class ChaosReport(ChaosSetup setup, IReadOnlyList<ChaosRound> rounds, IReadOnlyList<string>? notes = null)
{
    public static readonly IReadOnlyList<string> Headers =
        ["round", "streams", "completed", "identical", "lost", "duplicated", "changed", "max stall ms", "fault stall ms", "detect ms", "heal ms"];

    public ChaosSetup Setup { get; } = setup;

    public IReadOnlyList<ChaosRound> Rounds { get; } = rounds;

    /// <summary>Lines that explain the result (what was lost by design, a fault point not reached, …).</summary>
    public IReadOnlyList<string> Notes { get; } = notes ?? [];

    public bool Passed => Rounds.Count > 0 && Rounds.All(r => r.Bad == 0) && Setup.FaultError is null;

    /// <summary>The round with the fault, if the drill got that far.</summary>
    public ChaosRound? FaultRound => Rounds.FirstOrDefault(r => r.Name == ChaosRound.Fault);

    /// <summary>One table row per round; "-" where a value does not apply or was not observed.</summary>
    public IReadOnlyList<IReadOnlyList<string>> Rows() => [.. Rounds.Select(Row)];

    private static IReadOnlyList<string> Row(ChaosRound r)
    {
        string lost = I(r.Lost) + (r.ExpectedLosses > 0 ? $" (+{I(r.LostByDesign)} by design)" : "");
        string completed = I(r.Completed) + (r.ExpectedLosses > 0 ? $" ({I(r.ExpectedLosses)} lost by design)" : "");
        return [r.Name, I(r.Streams), completed, I(r.Identical), lost, I(r.Duplicated), I(r.Changed), Ms(r.MaxStallSeconds),
            Ms(r.FaultStallSeconds), Ms(r.DetectSeconds), Ms(r.HealSeconds)];
    }

    /// <summary>The one JSON object of <c>--json</c>: the setup, the fault round's figures at the top, every round with its streams.</summary>
    public string ToJson()
    {
        var root = new JsonObject
        {
            ["scenario"] = Setup.Scenario.Name(),
            ["seed"] = Setup.Seed,
            ["replicas"] = Setup.Replicas,
            ["attention_silos"] = Setup.AttentionSilos,
            ["expert_silos"] = Setup.ExpertSilos,
            ["prompt_tokens"] = Setup.PromptTokens,
            ["max_tokens"] = Setup.MaxTokens,
            ["fault"] = Setup.Fault,
            ["fault_at_tokens"] = Setup.FaultAtTokens,
            ["fault_error"] = Setup.FaultError,
            ["passed"] = Passed,
        };
        var fault = FaultRound;
        foreach (var (key, value) in Summary(fault)) root[key] = value;
        root["rounds"] = new JsonArray([.. Rounds.Select(RoundJson)]);
        root["notes"] = new JsonArray([.. Notes.Select(n => (JsonNode)n)]);
        return root.ToJsonString(new JsonSerializerOptions { WriteIndented = false });
    }

    private static IEnumerable<(string, JsonNode?)> Summary(ChaosRound? r)
    {
        yield return ("streams", r?.Streams);
        yield return ("completed", r?.Completed);
        yield return ("identical", r?.Identical);
        yield return ("failed", r?.Bad);
        yield return ("lost_by_design", r?.ExpectedLosses);
        yield return ("lost_tokens", r?.Lost);
        yield return ("lost_tokens_by_design", r?.LostByDesign);
        yield return ("duplicated_tokens", r?.Duplicated);
        yield return ("changed_tokens", r?.Changed);
        yield return ("max_stall_ms", MsValue(r?.MaxStallSeconds));
        yield return ("fault_stall_ms", MsValue(r?.FaultStallSeconds));
        yield return ("detect_ms", MsValue(r?.DetectSeconds));
        yield return ("heal_ms", MsValue(r?.HealSeconds));
    }

    private static JsonObject RoundJson(ChaosRound r)
    {
        var o = new JsonObject { ["round"] = r.Name };
        foreach (var (key, value) in Summary(r)) o[key] = value;
        o["stream_details"] = new JsonArray([.. r.Results.Select(s => (JsonNode)new JsonObject
        {
            ["stream"] = s.Record.Stream,
            ["pass"] = s.Record.Pass,
            ["completed"] = s.Record.Completed,
            ["identical"] = s.Identical,
            ["lost_by_design"] = s.ExpectedLoss,
            ["tokens"] = s.Record.Tokens.Count,
            ["expected_tokens"] = s.ExpectedTokens,
            ["completion_tokens"] = s.Record.CompletionTokens,
            ["finish_reason"] = s.Record.FinishReason,
            ["lost_tokens"] = s.Diff.Lost,
            ["duplicated_tokens"] = s.Diff.Duplicated,
            ["changed_tokens"] = s.Diff.Changed,
            ["max_stall_ms"] = MsValue(s.MaxStallSeconds),
            ["fault_stall_ms"] = r.FaultTimestamp is { } f ? MsValue(s.GapAcrossSeconds(f)) : null,
            ["error"] = s.Record.Error,
        })]);
        return o;
    }

    private static string I(int v) => v.ToString(CultureInfo.InvariantCulture);

    private static string Ms(double? seconds) => seconds is { } s ? (s * 1e3).ToString("F0", CultureInfo.InvariantCulture) : "-";

    private static JsonNode? MsValue(double? seconds) => seconds is { } s ? Math.Round(s * 1e3, 1) : null;
}
