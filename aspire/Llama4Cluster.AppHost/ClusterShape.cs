using System.Globalization;
using Microsoft.Extensions.Configuration;

namespace Llama4Cluster.AppHost;

/// <summary>
/// What the app host starts, from its configuration (<c>Llama4:*</c>; on the command line
/// <c>dotnet run --project aspire/Llama4Cluster.AppHost -- --Llama4:ExpertSilos 2</c>, or <c>Llama4__ExpertSilos=2</c>).
/// </summary>
internal sealed record ClusterShape(string? Model, int AttentionSilos, int ExpertSilos, int Ranks, int Shards, int GatewayPort, string DType, int Threads)
{
    /// <summary>Where the app host writes its tiny checkpoint when no <c>Llama4:Model</c> is given.</summary>
    public static string DefaultModelDirectory =>
        Path.Combine(Environment.GetEnvironmentVariable("LLAMA4_CACHE") is { Length: > 0 } cache
            ? cache
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache", "llama4cluster"), "models", "apphost-tiny-scout");

    public static ClusterShape Read(IConfiguration configuration)
    {
        var section = configuration.GetSection("Llama4");
        int attention = Int(section, "AttentionSilos", 1, 1, 64);
        int experts = Int(section, "ExpertSilos", 1, 1, 64);
        return new ClusterShape(
            section["Model"] is { Length: > 0 } model ? Path.GetFullPath(model) : null,
            attention,
            experts,
            Int(section, "Ranks", attention, 1, 256),
            Int(section, "Shards", experts, 1, 1024),
            Int(section, "GatewayPort", 8000, 0, 65535),
            section["DType"] is { Length: > 0 } dtype ? dtype : "float32",
            Int(section, "Threads", 1, 1, 1024));
    }

    private static int Int(IConfigurationSection section, string key, int fallback, int min, int max)
    {
        if (section[key] is not { Length: > 0 } text) return fallback;
        if (!int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out int value) || value < min || value > max)
            throw new ArgumentException($"Llama4:{key} '{text}': expected an integer from {min} to {max}");
        return value;
    }
}
