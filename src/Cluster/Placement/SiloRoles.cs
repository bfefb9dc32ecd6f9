namespace Llama4Cluster.Cluster.Placement;

/// <summary>Parsing and capability checks for <see cref="SiloRole"/>.</summary>
public static class SiloRoles
{
    public static bool HoldsExperts(this SiloRole role) => role is SiloRole.Expert or SiloRole.All;

    public static bool HoldsAttention(this SiloRole role) => role is SiloRole.Attention or SiloRole.All;

    /// <summary>Parses <c>expert</c>, <c>attention</c> or <c>all</c> (case-insensitive).</summary>
    public static SiloRole Parse(string value) => value.Trim().ToLowerInvariant() switch
    {
        "expert" => SiloRole.Expert,
        "attention" => SiloRole.Attention,
        "all" => SiloRole.All,
        _ => throw new ArgumentException($"silo role '{value}': expected expert, attention or all", nameof(value)),
    };

    public static string ToText(this SiloRole role) => role switch
    {
        SiloRole.Expert => "expert",
        SiloRole.Attention => "attention",
        _ => "all",
    };
}
