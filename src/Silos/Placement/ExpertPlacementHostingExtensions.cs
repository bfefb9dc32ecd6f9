using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using Orleans.Hosting;

using Llama4Cluster.Cluster.Placement;

namespace Llama4Cluster.Silos.Placement;

/// <summary>Registers <see cref="ExpertPlacement"/> with <see cref="ExpertPlacementDirector"/> on a silo.</summary>
public static class ExpertPlacementHostingExtensions
{
    /// <summary>
    /// Adds the strategy and its director, and binds <see cref="ExpertPlacementOptions"/> to the
    /// <c>Llama4:Placement</c> section. The silo must also register an <see cref="IPlacementPlanProvider"/>
    /// (or use the overload that takes a plan). Calling it again changes nothing.
    /// </summary>
    public static ISiloBuilder AddExpertPlacement(this ISiloBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.AddExpertPlacement();
        return builder;
    }

    /// <summary>As <see cref="AddExpertPlacement(ISiloBuilder)"/>, placing by a fixed <paramref name="plan"/> (replacing any plan provider registered before).</summary>
    public static ISiloBuilder AddExpertPlacement(this ISiloBuilder builder, PlacementPlan plan)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(plan);
        builder.Services.Replace(ServiceDescriptor.Singleton<IPlacementPlanProvider>(new StaticPlacementPlanProvider(plan)));
        builder.Services.AddExpertPlacement();
        return builder;
    }

    public static IServiceCollection AddExpertPlacement(this IServiceCollection services)
    {
        ArgumentNullException.ThrowIfNull(services);
        if (services.Any(d => d.ServiceType == typeof(ExpertPlacementMarker))) return services;
        services.AddSingleton<ExpertPlacementMarker>();
        services.AddPlacementDirector<ExpertPlacement, ExpertPlacementDirector>();
        services.AddOptions<ExpertPlacementOptions>().BindConfiguration(ExpertPlacementOptions.SectionName);
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<ExpertPlacementOptions>, ExpertPlacementOptionsValidator>());
        // A staged plan file sets the silo's stage count (Llama4:Stages), so every silo of the plan agrees.
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IPostConfigureOptions<Model.ClusterModelOptions>, PlanFileConfiguration>());
        return services;
    }

    /// <summary>Makes <see cref="AddExpertPlacement(IServiceCollection)"/> idempotent.</summary>
    private sealed class ExpertPlacementMarker;
}
