using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;
using Llama4Cluster.Core.Config;

namespace Llama4Cluster.Cluster.Placement;

/// <summary>
/// A <see cref="PlacementPlan"/> as a JSON file (<c>llama4 plan --out FILE</c> writes it, a silo's <c>--plan FILE</c> reads it):
/// indented, camelCase, enums as lower-case names, only the stored members (derived totals such as
/// <c>totalExpertBytes</c> are not written). Reading is strict: unknown or missing members fail, and the file
/// round-trips exactly (<c>Serialize(Deserialize(json)) == json</c>).
/// </summary>
public static class PlacementPlanJson
{
    /// <summary>The options used to read and write plans.</summary>
    public static JsonSerializerOptions Options { get; } = CreateOptions();

    public static string Serialize(PlacementPlan plan)
    {
        ArgumentNullException.ThrowIfNull(plan);
        return JsonSerializer.Serialize(plan, Options);
    }

    /// <summary>
    /// Parses a plan; throws <see cref="JsonException"/> when the text is not a complete plan. A plan written before ranks had
    /// stages (no <c>stages</c> in its ranks, no <c>sharedExperts</c>) reads as one stage of every layer per rank, on the
    /// rank's first device, with the shared experts on the ranks.
    /// </summary>
    public static PlacementPlan Deserialize(string json)
    {
        ArgumentNullException.ThrowIfNull(json);
        var plan = JsonSerializer.Deserialize<PlacementPlan>(json, Options)
            ?? throw new JsonException("the file holds null, not a placement plan");
        if (plan.AttentionRanks.All(r => !r.Stages.IsDefault)) return plan;
        return plan with
        {
            AttentionRanks = [.. plan.AttentionRanks.Select(r => r.Stages.IsDefault
                ? r with { Stages = [new AttentionStagePlacement(0, r.Silo, r.Devices.IsDefaultOrEmpty ? "cpu" : r.Devices[0], 0, plan.Footprint.Layers, r.NonExpertBytes, r.KvBytes)] }
                : r)],
        };
    }

    /// <summary>Writes <paramref name="plan"/> to <paramref name="path"/> (UTF-8, trailing newline).</summary>
    public static void Save(PlacementPlan plan, string path)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        File.WriteAllText(path, Serialize(plan) + Environment.NewLine);
    }

    /// <summary>
    /// Reads the plan in <paramref name="path"/> and, given the served model's <paramref name="config"/>, checks that the plan
    /// was made for its shape (layers, MoE layers, experts per layer) and that every expert of every MoE layer is in exactly
    /// one shard. Throws <see cref="PlacementPlanFileException"/> with one line naming the file and what is wrong.
    /// </summary>
    public static PlacementPlan Load(string path, Llama4TextConfig? config = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        string full = Path.GetFullPath(path);
        PlacementPlan plan;
        try
        {
            plan = Deserialize(File.ReadAllText(full));
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new PlacementPlanFileException(full, "the file does not exist (write one with: llama4 plan ... --out FILE)", e);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new PlacementPlanFileException(full, $"cannot read it: {e.Message}", e);
        }
        catch (JsonException e)
        {
            throw new PlacementPlanFileException(full, $"not a placement plan: {OneLine(e.Message)}", e);
        }
        CheckStages(full, plan);
        if (config is not null) CheckMatches(full, plan, config);
        return plan;
    }

    /// <summary>Every rank has the same stage count and its stages cut the layers exactly as the runtime does (<see cref="StageLayers.Split"/>).</summary>
    private static void CheckStages(string path, PlacementPlan plan)
    {
        int k = plan.StagesPerRank;
        if (k > plan.Footprint.Layers)
            throw new PlacementPlanFileException(path, $"its ranks have {k} stages but the model only {plan.Footprint.Layers} layers");
        var cut = StageLayers.Split(plan.Footprint.Layers, k);
        foreach (var rank in plan.AttentionRanks)
        {
            if (rank.Stages.Length != k)
                throw new PlacementPlanFileException(path, $"attention rank {rank.Rank} has {rank.Stages.Length} stages and rank {plan.AttentionRanks[0].Rank} {k}; every rank must have the same (re-plan with llama4 plan ... --out FILE)");
            for (int s = 0; s < k; s++)
                if (rank.Stages[s].Stage != s || rank.Stages[s].Layers != cut[s])
                    throw new PlacementPlanFileException(path,
                        $"attention rank {rank.Rank} stage {s} holds {rank.Stages[s].Layers} but the runtime's {k}-stage cut gives it {cut[s]}; re-plan with llama4 plan ... --out FILE");
        }
    }

    private static void CheckMatches(string path, PlacementPlan plan, Llama4TextConfig config)
    {
        var f = plan.Footprint;
        var moe = Enumerable.Range(0, config.NumHiddenLayers).Where(config.IsMoeLayer).ToArray();
        int experts = moe.Length == 0 ? 0 : config.NumLocalExperts;
        if (f.Layers != config.NumHiddenLayers || f.ExpertsPerLayer != experts || !f.MoeLayers.SequenceEqual(moe))
            throw new PlacementPlanFileException(path,
                $"the plan is for a model of {f.Layers} layers, {f.MoeLayers.Length} MoE layers × {f.ExpertsPerLayer} experts, " +
                $"but the checkpoint has {config.NumHiddenLayers} layers, {moe.Length} MoE layers × {experts} experts; re-plan for this model (llama4 plan --model DIR ... --out FILE)");
        if (experts == 0) return;
        try
        {
            _ = new PlanExpertShardMap(plan, experts);
        }
        catch (ArgumentException e)
        {
            throw new PlacementPlanFileException(path, OneLine(e.Message), e);
        }
    }

    private static string OneLine(string text) => text.ReplaceLineEndings(" ");

    private static JsonSerializerOptions CreateOptions()
    {
        var options = new JsonSerializerOptions
        {
            WriteIndented = true,
            PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
            UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
            RespectNullableAnnotations = true,
            RespectRequiredConstructorParameters = true,
            TypeInfoResolver = new DefaultJsonTypeInfoResolver { Modifiers = { StoredMembersOnly } },
        };
        options.Converters.Add(new JsonStringEnumConverter(JsonNamingPolicy.CamelCase, allowIntegerValues: false));
        options.MakeReadOnly();
        return options;
    }

    /// <summary>Drops get-only (derived) properties such as <see cref="PlacementPlan.Summary"/> or <see cref="DeviceMemory.FreeBytes"/>.</summary>
    private static void StoredMembersOnly(JsonTypeInfo info)
    {
        if (info.Kind != JsonTypeInfoKind.Object) return;
        for (int i = info.Properties.Count - 1; i >= 0; i--)
            if (info.Properties[i].Set is null && info.Properties[i].AssociatedParameter is null)
                info.Properties.RemoveAt(i);
    }
}

/// <summary>A placement plan file that cannot be used; <see cref="Exception.Message"/> is one line naming the file.</summary>
public sealed class PlacementPlanFileException(string path, string problem, Exception? inner = null)
    : Exception($"placement plan '{path}': {problem}", inner);
