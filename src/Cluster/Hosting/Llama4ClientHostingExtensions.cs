using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Orleans.Configuration;

namespace Llama4Cluster.Cluster.Hosting;

/// <summary>The Orleans client side of a Llama 4 cluster, in one place for every client (gateway, CLI, tests).</summary>
public static class Llama4ClientHostingExtensions
{
    /// <summary>
    /// Joins the cluster <paramref name="options"/> names: Redis membership when <see cref="Llama4ClientOptions.Redis"/> is
    /// set (otherwise the caller adds clustering, e.g. static; under Aspire, Orleans' own configuration holds it: <see cref="AspireOrleansWiring"/>), the cluster and service ids, and the silos' maximum message size;
    /// registers <see cref="ClusterConnectionEvents"/> (a lost gateway connection). Grain calls carry the caller's trace
    /// context (<c>AddActivityPropagation</c>), so a request's spans on the silos join its trace.
    /// </summary>
    public static IClientBuilder AddLlama4Client(this IClientBuilder builder, Llama4ClientOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        options ??= new Llama4ClientOptions();
        if (!string.IsNullOrWhiteSpace(options.Redis) && !AspireOrleansWiring.AddConfiguredRedisClustering(builder.Services, builder.Configuration, options.Redis))
            builder.UseRedisClustering(options.Redis);
        builder.Configure<ClusterOptions>(o =>
        {
            o.ClusterId = options.ClusterId;
            o.ServiceId = options.ServiceId;
        });
        builder.Configure<ClientMessagingOptions>(m => m.MaxMessageBodySize = options.MaxMessageBytes);
        builder.Services.TryAddSingleton<ClusterConnectionEvents>();
        if (!builder.Services.Any(d => d.ServiceType == typeof(ActivityPropagationMarker)))
        {
            builder.Services.AddSingleton<ActivityPropagationMarker>();
            builder.AddActivityPropagation();
        }
        builder.AddGatewayCountChangedHandler(sp => (_, change) => sp.GetRequiredService<ClusterConnectionEvents>().OnGatewayCountChanged(change));
        return builder;
    }

    private sealed class ActivityPropagationMarker;
}
