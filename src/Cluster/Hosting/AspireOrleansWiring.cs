using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using StackExchange.Redis;

namespace Llama4Cluster.Cluster.Hosting;

/// <summary>
/// What Aspire.Hosting.Orleans gives a silo or client it references (<c>WithReference(orleans)</c>): the variables
/// <c>Orleans__Clustering__ProviderType=Redis</c>, <c>Orleans__Clustering__ServiceKey=KEY</c>,
/// <c>ConnectionStrings__KEY</c>, <c>Orleans__ClusterId</c> and, for silos, <c>Orleans__Endpoints__SiloPort</c> and
/// <c>Orleans__Endpoints__GatewayPort</c>. Orleans reads the clustering section itself and resolves the Redis connection
/// as a keyed <see cref="IConnectionMultiplexer"/>; the hosts take the same connection string for their own uses of Redis
/// (the model grains' directory, the gateway's cluster client), so one setting wires both.
/// </summary>
public static class AspireOrleansWiring
{
    /// <summary>The service key of the Redis resource when Aspire configured Redis clustering, else null.</summary>
    public static string? RedisServiceKey(IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var clustering = configuration.GetSection("Orleans:Clustering");
        return string.Equals(clustering["ProviderType"], "Redis", StringComparison.OrdinalIgnoreCase) && clustering["ServiceKey"] is { Length: > 0 } key
            ? key
            : null;
    }

    /// <summary>The Redis connection string Aspire gave this process (<c>ConnectionStrings:KEY</c>), else null.</summary>
    public static string? RedisConnectionString(IConfiguration configuration) =>
        RedisServiceKey(configuration) is { } key ? configuration.GetConnectionString(key) : null;

    /// <summary>
    /// Registers the keyed connection Orleans' configured Redis clustering asks for; true when Aspire configured it (the
    /// caller then leaves clustering to Orleans' configuration instead of registering it a second time).
    /// </summary>
    public static bool AddConfiguredRedisClustering(IServiceCollection services, IConfiguration configuration, string redis)
    {
        ArgumentNullException.ThrowIfNull(services);
        if (RedisServiceKey(configuration) is not { } key) return false;
        services.AddKeyedSingleton<IConnectionMultiplexer>(key, (_, _) => ConnectionMultiplexer.Connect(redis));
        return true;
    }
}
