using System.Diagnostics;
using System.Net;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Runtime;
using Orleans.Runtime.MembershipService.SiloMetadata;
using Orleans.Runtime.Placement;

using Llama4Cluster.Cluster.Placement;

namespace Llama4Cluster.Silos.Placement;

/// <summary>
/// Puts a grain on the silo the placement plan names for its <see cref="PlacementKey"/>.
/// </summary>
/// <remarks>
/// Order, as Orleans' own directors do it (<c>SiloRoleBasedPlacementDirector</c>): start from
/// <see cref="IPlacementContext.GetCompatibleSilos"/>; a valid placement hint (one naming a compatible silo) wins,
/// because whoever set it (a migration, an operator) asked for that silo on purpose; otherwise the planned silo,
/// matched by its endpoint (<see cref="SiloInventory.Address"/> against <see cref="SiloAddress.Endpoint"/>, so a
/// restarted silo with a new generation still matches) when the plan gives one, else by name
/// (<see cref="SiloInventory.Name"/> against the silo's Orleans name in the membership table, which a silo process
/// sets with <c>--name</c>; plans from <c>llama4 plan</c> name silos <c>host-0</c>, <c>host-1</c>, … and carry no endpoints). When the planned silo is not compatible (down, not yet
/// joined, or lacking the grain type), it fails or falls back per <see cref="ExpertPlacementOptions"/>. It reads
/// the plan from <see cref="IPlacementPlanProvider"/> and never calls a grain. Without a plan (the provider's
/// <see cref="IPlacementPlanProvider.Current"/> is null) it spreads grains over the compatible silos by a stable hash
/// of the key, keeping to the silos whose advertised role can hold the grain (<see cref="SiloMetadataKeys.Role"/> in
/// Orleans' silo metadata: expert shards on <c>expert</c>/<c>all</c> silos, attention ranks on <c>attention</c>/<c>all</c>);
/// a silo that advertises no role counts as <c>all</c>.
/// <para>The compatible silos come from this silo's cluster manifest, which Orleans fetches from each silo some time after
/// the silo joins the membership. A grain placed in that gap would crowd onto the silos already known (two pipeline stages
/// of a rank on one silo), so placement first waits, up to <see cref="ExpertPlacementOptions.ManifestWait"/>, until the
/// manifest covers every silo that this silo's membership lists as active.</para>
/// </remarks>
public sealed partial class ExpertPlacementDirector(
    IPlacementPlanProvider plans,
    IOptions<ExpertPlacementOptions> options,
    ILogger<ExpertPlacementDirector> logger,
    IClusterMembershipService? membership = null,
    ISiloMetadataCache? metadata = null,
    IClusterManifestProvider? manifests = null) : IPlacementDirector
{
    public async Task<SiloAddress> OnAddActivation(PlacementStrategy strategy, PlacementTarget target, IPlacementContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        await WaitForManifestsAsync(target.GrainIdentity);
        return Place(target, context);
    }

    private SiloAddress Place(PlacementTarget target, IPlacementContext context)
    {
        var grain = target.GrainIdentity;
        var compatible = context.GetCompatibleSilos(target);
        if (compatible.Length == 0)
            throw new OrleansException($"Cannot place {grain}: no active silo supports this grain type yet. Wait for the silos to join, or check that they load the grain's assembly.");

        if (IPlacementDirector.GetPlacementHint(target.RequestContextData, compatible) is { } hint)
            return hint;

        if (!PlacementKey.TryFromGrainId(grain, out var key))
            throw new OrleansException($"Cannot place {grain}: its key '{grain.Key}' is not a placement key; grains with [{nameof(ExpertPlacementAttribute)}] use string keys expert/LAYER/SHARD[/REPLICA], LAYER/SHARD or attention/RANK, or an integer rank ({nameof(PlacementKey)}).");

        // No plan (the default): spread the grains over the compatible silos, stable per key.
        if (plans.Current is not { } plan)
            return Spread(key, ByRole(grain, key, compatible));

        if (key.Stage > 0 && plan.SiloFor(key) is null) // a plan without stages: spread the later stages over its attention silos
            return Fallback(plan, key, compatible);
        var planned = plan.SiloFor(key)
            ?? throw new OrleansException($"Cannot place {grain}: the placement plan has no {key.Describe()} " +
                $"(it has MoE layers [{string.Join(",", plan.Footprint.MoeLayers)}] × {plan.ShardsPerLayer} shards × {plan.Replicas} replica(s) and {plan.AttentionRanks.Length} attention rank(s)).");

        if (TryEndpoint(planned.Address, out var endpoint))
        {
            foreach (var silo in compatible)
                if (silo.Endpoint.Equals(endpoint))
                    return silo;
        }
        else if (membership?.CurrentSnapshot.Members is { } members)
        {
            foreach (var silo in compatible)
                if (members.TryGetValue(silo, out var member) && string.Equals(member.Name, planned.Name, StringComparison.Ordinal))
                    return silo;
        }

        string why = planned.Address is null
            ? $"the plan puts it on silo '{planned.Name}' (matched by name: start that silo with --name {planned.Name}), which is not among the {compatible.Length} compatible active silo(s) [{string.Join(", ", compatible.Select(s => Describe(s)))}]"
            : $"the plan puts it on silo '{planned.Name}' ({planned.Address}), which is not among the {compatible.Length} compatible active silo(s) [{string.Join(", ", compatible.Select(s => s.Endpoint))}]";
        if (options.Value.WhenPlannedSiloMissing == PlannedSiloMissing.AnyCompatible)
        {
            var fallback = Fallback(plan, key, compatible);
            LogFallback(logger, key.Describe(), planned.Name, fallback);
            return fallback;
        }
        throw new OrleansException($"Cannot place {grain} ({key.Describe()}): {why}. Start that silo, re-plan for the silos that are running, " +
            $"or set {ExpertPlacementOptions.SectionName}:{nameof(ExpertPlacementOptions.WhenPlannedSiloMissing)} to {nameof(PlannedSiloMissing.AnyCompatible)}.");
    }

    /// <summary>Waits (polling, up to <see cref="ExpertPlacementOptions.ManifestWait"/>) until this silo's cluster manifest has an
    /// entry for every silo its membership lists as active; on time-out it logs a silo still missing and places anyway.</summary>
    private async Task WaitForManifestsAsync(GrainId grain)
    {
        if (manifests is null || membership is null || MissingManifest() is null) return;
        long start = Stopwatch.GetTimestamp();
        var wait = options.Value.ManifestWait;
        while (MissingManifest() is { } missing)
        {
            if (Stopwatch.GetElapsedTime(start) >= wait)
            {
                LogManifestTimeout(logger, grain, missing, wait);
                return;
            }
            await Task.Delay(20);
        }
        LogManifestWait(logger, grain, Stopwatch.GetElapsedTime(start).TotalMilliseconds);
    }

    /// <summary>An active member of this silo's membership without an entry in its cluster manifest, or null.</summary>
    private SiloAddress? MissingManifest()
    {
        var known = manifests!.Current.Silos;
        foreach (var member in membership!.CurrentSnapshot.Members.Values)
            if (member.Status == SiloStatus.Active && !known.ContainsKey(member.SiloAddress)) return member.SiloAddress;
        return null;
    }

    /// <summary>The silos whose advertised role can hold <paramref name="key"/>'s grain; an error naming every silo's role when none can.</summary>
    private SiloAddress[] ByRole(GrainId grain, PlacementKey key, SiloAddress[] compatible)
    {
        if (metadata is null) return compatible;
        bool experts = key.Kind == PlacementKind.ExpertShard;
        var roles = compatible.Select(s => (Silo: s, Role: AdvertisedRole(s))).ToArray();
        var suitable = roles.Where(r => experts ? r.Role.HoldsExperts() : r.Role.HoldsAttention()).Select(r => r.Silo).ToArray();
        if (suitable.Length > 0) return suitable;
        throw new OrleansException($"Cannot place {grain} ({key.Describe()}): no active silo's role can hold it; it needs a silo with role " +
            $"{(experts ? "expert" : "attention")} or all, and the silos are [{string.Join(", ", roles.Select(r => $"{Describe(r.Silo)}: {r.Role.ToText()}"))}]. " +
            "Start a silo with that --role.");
    }

    private SiloRole AdvertisedRole(SiloAddress silo) => RoleOf(metadata!, silo);

    /// <summary>The role <paramref name="silo"/> advertises; <c>all</c> when it advertises none or an unknown one.</summary>
    internal static SiloRole RoleOf(ISiloMetadataCache metadata, SiloAddress silo)
    {
        var advertised = metadata.GetSiloMetadata(silo).Metadata;
        if (!advertised.TryGetValue(SiloMetadataKeys.Role, out var text)) return SiloRole.All;
        try
        {
            return SiloRoles.Parse(text);
        }
        catch (ArgumentException)
        {
            return SiloRole.All;
        }
    }

    private string Describe(SiloAddress silo) =>
        membership?.CurrentSnapshot.Members.TryGetValue(silo, out var m) == true && !string.IsNullOrEmpty(m.Name) ? $"{m.Name} {silo.Endpoint}" : silo.Endpoint.ToString();

    /// <summary>Parses <c>ip:port</c> or a silo address string <c>ip:port@generation</c>.</summary>
    internal static bool TryEndpoint(string? address, out IPEndPoint endpoint)
    {
        endpoint = null!;
        if (string.IsNullOrWhiteSpace(address)) return false;
        if (address.Contains('@', StringComparison.Ordinal))
        {
            try
            {
                endpoint = SiloAddress.FromParsableString(address).Endpoint;
                return true;
            }
            catch (FormatException)
            {
                return false;
            }
        }
        if (!IPEndPoint.TryParse(address, out var parsed)) return false;
        endpoint = parsed;
        return true;
    }

    /// <summary>A compatible silo whose inventory role can hold the grain, else any compatible silo; stable per key.</summary>
    private static SiloAddress Fallback(PlacementPlan plan, PlacementKey key, SiloAddress[] compatible)
    {
        var suitable = compatible.Where(address => plan.Inventory.Silos.Any(s =>
                TryEndpoint(s.Address, out var e) && e.Equals(address.Endpoint)
                && (key.Kind == PlacementKind.ExpertShard ? s.Role.HoldsExperts() : s.Role.HoldsAttention())))
            .ToArray();
        return Spread(key, suitable.Length > 0 ? suitable : compatible);
    }

    /// <summary>One of <paramref name="pool"/>, the same for a key as long as the pool is the same. The replicas of an expert
    /// shard take consecutive silos from the shard's own position, so they never share a silo while the pool has room; attention
    /// ranks go round-robin, so the loss of one silo leaves the ranks of the others.</summary>
    internal static SiloAddress Spread(PlacementKey key, SiloAddress[] pool)
    {
        var ordered = pool.OrderBy(s => s.ToParsableString(), StringComparer.Ordinal).ToArray();
        // Ranks round-robin, one per silo first; a staged rank's stage s sits s silos further on, so its stages take distinct
        // silos while there are enough, and each silo holds a different stage of each rank (the ranks interleave through them).
        if (key.Kind == PlacementKind.AttentionRank) return ordered[(key.Rank + key.Stage) % ordered.Length];
        return ordered[(int)((StableHash((key with { Replica = 0 }).ToString()) + (uint)key.Replica) % (uint)ordered.Length)];
    }

    /// <summary>FNV-1a: the same on every silo and every run (string.GetHashCode is randomised per process).</summary>
    private static uint StableHash(string s)
    {
        uint h = 2166136261;
        foreach (char c in s) h = (h ^ c) * 16777619;
        return h;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Placing {Grain} waited {Milliseconds:F0} ms for the cluster manifest of a silo that had just joined")]
    private static partial void LogManifestWait(ILogger logger, GrainId grain, double milliseconds);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Placing {Grain}: silo {Silo} is active but its grain manifest has not arrived after {Wait}; placing among the silos known so far")]
    private static partial void LogManifestTimeout(ILogger logger, GrainId grain, SiloAddress silo, TimeSpan wait);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Placement plan silo {PlannedSilo} is not available for {Grain}; placing it on {Fallback} instead")]
    private static partial void LogFallback(ILogger logger, string grain, string plannedSilo, SiloAddress fallback);
}
