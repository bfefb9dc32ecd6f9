using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Llama4Cluster.Silos.Hosting;

/// <summary>
/// The entry point through which a process that does not reference this assembly at compile time (the gateway in its
/// one-command mode) hosts a silo serving every grain in its own process. It finds this type by name and calls
/// <see cref="AddLlama4CoHostedSilo"/> by reflection, so the signature is a contract: plain framework and Orleans types only.
/// Clustering (localhost, ports) is the caller's; this adds the Llama 4 grains' services with the given settings.
/// </summary>
public static class CoHostedSiloEntryPoint
{
    /// <summary>The type the caller looks up by name.</summary>
    public const string TypeName = "Llama4Cluster.Silos.Hosting.CoHostedSiloEntryPoint";

    /// <summary>
    /// Adds the Llama 4 grains (<see cref="Llama4SiloHostingExtensions.AddLlama4Silo"/>) to <paramref name="builder"/>.
    /// <paramref name="settings"/> are <see cref="ClusterModelOptions"/> property names and values
    /// (<c>ModelDirectory</c>, <c>DType</c>, <c>WireDType</c>, <c>ShardsPerLayer</c>, <c>AttentionRanks</c>, <c>DataPlane</c>,
    /// <c>TorchThreads</c>, …); they are applied after the host's <c>Llama4</c> configuration section, so the caller's
    /// choices win and every other <c>Llama4:*</c> key still tunes the silo. Validated when the host starts.
    /// </summary>
    /// <exception cref="ArgumentException">A setting names no <see cref="ClusterModelOptions"/> property, or its value
    /// does not convert to the property's type.</exception>
    public static void AddLlama4CoHostedSilo(ISiloBuilder builder, IReadOnlyDictionary<string, string?> settings)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(settings);
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(settings).Build();
        // Bind once now so that an unknown key or a bad value fails at composition, naming the setting.
        try
        {
            configuration.Bind(new ClusterModelOptions(), o => o.ErrorOnUnknownConfiguration = true);
        }
        catch (InvalidOperationException e)
        {
            throw new ArgumentException($"co-hosted silo settings: {e.Message}", nameof(settings), e);
        }
        builder.AddLlama4Silo();
        builder.Services.PostConfigure<ClusterModelOptions>(o => configuration.Bind(o));
    }
}
