using Llama4Cluster.Silos.Model;
using System.Globalization;
using Llama4Cluster.Cluster.Processes;
using Llama4Cluster.Kernels.Runtime;
using Llama4Cluster.Silos.Hosting;
using Llama4Cluster.ServiceDefaults;

namespace Llama4Cluster.Gateway.Hosting;

/// <summary>
/// The one-command mode's silo: a localhost-clustered Orleans silo in the gateway's own process serving every grain (role
/// <c>all</c>), added through the silo project's own hosting extension (<see cref="Llama4SiloHostingExtensions.AddLlama4Silo"/>),
/// so the grain code path is the one of a cluster of silo processes. Silo and gateway ports are free ports chosen by the OS,
/// so several gateways can run on one machine.
/// <para>
/// Everything that touches the silo assembly, Kernels' runtime settings or libtorch is in this class: the gateway in client
/// mode (<c>--redis</c>) never calls it, so the JIT never loads those assemblies there and libtorch stays out of the process.
/// </para>
/// </summary>
public static class CoHostedSilo
{
    /// <summary>Adds the co-hosted silo to <paramref name="builder"/> and returns its Orleans endpoints.</summary>
    /// <exception cref="GatewayStartupException">A <c>--device</c> the silo cannot use (exit code 2).</exception>
    public static CoHostedSiloEndpoints Add(IHostApplicationBuilder builder, GatewayOptions options, string modelDirectory)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(options);
        // libgomp reads its wait policy once, when libtorch loads (at silo start, after this): set it first.
        NativeRuntimeSettings.ApplyBeforeTorch();
        CheckDevice(options.Device);
        var endpoints = new CoHostedSiloEndpoints(FreePorts.Loopback(), FreePorts.Loopback());
        builder.UseOrleans(silo =>
        {
            silo.UseLocalhostClustering(endpoints.SiloPort, endpoints.GatewayPort, primarySiloEndpoint: null,
                serviceId: options.ServiceId, clusterId: options.ClusterId);
            silo.AddLlama4Silo();
            if (options.DashboardPort is int dashboard) silo.AddDashboardEndpoint(dashboard);
            // After the host's Llama4 section is bound: the gateway's flags win, every other Llama4:* key still tunes the silo.
            silo.Services.PostConfigure<ClusterModelOptions>(model => Apply(model, options, modelDirectory));
        });
        return endpoints;
    }

    /// <summary>
    /// The silo options for the gateway's options: every grain in this process, the gateway's compute dtype (the wire
    /// follows it), data plane when given (else the silo default), and torch threads set deliberately (one per core unless
    /// --threads says otherwise: the HTTP side needs little CPU next to the model).
    /// </summary>
    public static void Apply(ClusterModelOptions model, GatewayOptions options, string modelDirectory)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(options);
        model.ModelDirectory = modelDirectory;
        model.Role = "all";
        model.Device = options.Device;
        if (options.DType is { } given && GatewayOptionsValidator.NormalizeDType(given) is { } dtype)
            model.DType = dtype == ComputeDType.Auto && modelDirectory.Length > 0 ? ComputeDType.Name(ComputeDType.ForCheckpoint(modelDirectory)) : dtype;
        model.WireDType = "";
        model.ShardsPerLayer = options.ShardsPerLayer;
        model.AttentionRanks = options.AttentionRanks;
        if (options.DataPlane is { } plane) model.DataPlane = plane;
        model.TorchThreads = TorchThreads(options);
        model.PrefixCache = options.EnablePrefixCaching;
        model.PrefixCacheBlockSize = options.PrefixBlockSize;
        model.BatchInvariant = options.BatchInvariant;
    }

    /// <summary>Torch intra-op threads of the co-hosted silo: <c>--threads</c>, else one per core.</summary>
    public static int TorchThreads(GatewayOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return options.Threads ?? Environment.ProcessorCount;
    }

    /// <summary>A device the co-hosted silo cannot use fails here, before anything starts (usage error).</summary>
    private static void CheckDevice(string device)
    {
        if (device.Trim().Equals("cpu", StringComparison.OrdinalIgnoreCase)) return;
        try
        {
            DeviceSpec.Parse(device);
        }
        catch (ArgumentException e)
        {
            throw GatewayStartupException.Usage("--device: " + e.Message);
        }
    }

    /// <summary>The co-hosted silo's effective compute dtype and data plane, for the start-up log and <c>GET /info</c>.</summary>
    public static (string DType, string DataPlane) Describe(GatewayOptions options, string modelDirectory)
    {
        var model = new ClusterModelOptions();
        Apply(model, options, modelDirectory);
        return (model.DType, model.DataPlane.ToString().ToLower(CultureInfo.InvariantCulture));
    }
}
