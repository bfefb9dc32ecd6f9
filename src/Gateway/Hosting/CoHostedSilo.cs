using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Reflection;
using System.Runtime.Loader;
using Orleans.Serialization;

namespace Llama4Cluster.Gateway.Hosting;

/// <summary>
/// The one-command mode's silo: a localhost-clustered Orleans silo in the gateway's own process serving every grain (role
/// <c>all</c>), so the grain code path is the one of a cluster of silo processes. The gateway never references the silo
/// assembly at compile time: the build copies <c>Llama4Cluster.Silos.dll</c> beside it, this loads it by path, registers it
/// with Orleans' type manifest (its grain classes and serializers) and calls its entry point
/// (<c>CoHostedSiloEntryPoint.AddLlama4CoHostedSilo</c>) by reflection. Silo and gateway ports are free ports chosen by the OS,
/// so several gateways can run on one machine.
/// </summary>
public static class CoHostedSilo
{
    public const string AssemblyFileName = "Llama4Cluster.Silos.dll";
    private const string AssemblyName = "Llama4Cluster.Silos";
    private const string EntryPointType = "Llama4Cluster.Silos.Hosting.CoHostedSiloEntryPoint";
    private const string EntryPointMethod = "AddLlama4CoHostedSilo";
    private static readonly object LoadGate = new();

    /// <summary>
    /// Adds the co-hosted silo to <paramref name="builder"/> and returns its Orleans endpoints.
    /// </summary>
    /// <exception cref="GatewayStartupException">The silo assembly is missing or incompatible (exit code 1).</exception>
    public static CoHostedSiloEndpoints Add(IHostApplicationBuilder builder, GatewayOptions options, string modelDirectory)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(options);
        var assembly = LoadAssembly(options.SiloAssembly);
        var entryPoint = FindEntryPoint(assembly);
        var settings = Settings(options, modelDirectory);
        var endpoints = new CoHostedSiloEndpoints(FreePort(), FreePort());
        builder.Services.AddSerializer(serializer => serializer.AddAssembly(assembly));
        builder.UseOrleans(silo =>
        {
            silo.UseLocalhostClustering(endpoints.SiloPort, endpoints.GatewayPort, primarySiloEndpoint: null,
                serviceId: options.ServiceId, clusterId: options.ClusterId);
            try
            {
                entryPoint(silo, settings);
            }
            catch (ArgumentException inner)
            {
                throw GatewayStartupException.Failed($"{assembly.Location} rejected the gateway's silo settings ({inner.Message}): " +
                    "rebuild the gateway so that the silo assembly beside it matches", inner);
            }
        });
        return endpoints;
    }

    /// <summary>
    /// The silo settings (<c>ClusterModelOptions</c> properties) for the gateway's options: every grain in this process, fp32
    /// activations on the wire with fp32 compute (exactness) and bf16 otherwise, torch threads set deliberately (one per
    /// core unless --threads says otherwise: the HTTP side needs little CPU next to the model).
    /// </summary>
    public static IReadOnlyDictionary<string, string?> Settings(GatewayOptions options, string modelDirectory)
    {
        ArgumentNullException.ThrowIfNull(options);
        string dtype = GatewayOptionsValidator.NormalizeDType(options.DType)
            ?? throw new ArgumentException($"dtype '{options.DType}': use bf16 or fp32", nameof(options));
        string I(int v) => v.ToString(CultureInfo.InvariantCulture);
        return new Dictionary<string, string?>
        {
            ["ModelDirectory"] = modelDirectory,
            ["Role"] = "all",
            ["Device"] = options.Device,
            ["DType"] = dtype,
            ["WireDType"] = dtype == "float32" ? "fp32" : "bf16",
            ["ShardsPerLayer"] = I(options.ShardsPerLayer),
            ["AttentionRanks"] = I(options.AttentionRanks),
            ["DataPlane"] = options.DataPlane,
            ["TorchThreads"] = I(TorchThreads(options)),
        };
    }

    /// <summary>Torch intra-op threads of the co-hosted silo: <c>--threads</c>, else one per core.</summary>
    public static int TorchThreads(GatewayOptions options) => options.Threads ?? Environment.ProcessorCount;

    /// <summary>Loads the silo assembly (once per process) from <paramref name="path"/> or beside the gateway.</summary>
    internal static Assembly LoadAssembly(string? path)
    {
        string file = string.IsNullOrWhiteSpace(path) ? Path.Combine(AppContext.BaseDirectory, AssemblyFileName) : Path.GetFullPath(path);
        if (!File.Exists(file))
            throw GatewayStartupException.Failed($"the co-hosted silo needs {AssemblyFileName} at {file}: build the gateway with " +
                "'dotnet build src/Gateway' (it copies the silo assembly beside it), or join a cluster of silo processes with --redis HOST:PORT");
        lock (LoadGate)
        {
            // One copy per process: a second gateway in the same process (tests) reuses the loaded assembly.
            var loaded = AppDomain.CurrentDomain.GetAssemblies().FirstOrDefault(a => a.GetName().Name == AssemblyName);
            if (loaded is not null) return loaded;
            try
            {
                return AssemblyLoadContext.Default.LoadFromAssemblyPath(file);
            }
            catch (Exception e) when (e is BadImageFormatException or FileLoadException or FileNotFoundException)
            {
                throw GatewayStartupException.Failed($"{file} cannot be loaded ({e.Message}): rebuild the gateway with 'dotnet build src/Gateway'", e);
            }
        }
    }

    /// <summary>The entry point as a delegate; a clear error when the assembly has none of the expected shape.</summary>
    internal static Action<ISiloBuilder, IReadOnlyDictionary<string, string?>> FindEntryPoint(Assembly assembly)
    {
        ArgumentNullException.ThrowIfNull(assembly);
        Type? type;
        try
        {
            type = assembly.GetType(EntryPointType, throwOnError: false);
        }
        catch (Exception e) when (e is FileLoadException or FileNotFoundException or TypeLoadException)
        {
            throw Incompatible(assembly, e.Message, e);
        }
        var method = type?.GetMethod(EntryPointMethod, BindingFlags.Public | BindingFlags.Static, [typeof(ISiloBuilder), typeof(IReadOnlyDictionary<string, string?>)]);
        if (method is null || method.ReturnType != typeof(void))
            throw Incompatible(assembly, $"it has no public static void {EntryPointType}.{EntryPointMethod}(ISiloBuilder, IReadOnlyDictionary<string, string?>)", null);
        return (silo, settings) =>
        {
            try
            {
                method.Invoke(null, [silo, settings]);
            }
            catch (TargetInvocationException e) when (e.InnerException is not null)
            {
                System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(e.InnerException);
            }
        };
    }

    private static GatewayStartupException Incompatible(Assembly assembly, string why, Exception? inner) =>
        GatewayStartupException.Failed($"{assembly.Location} is not a compatible silo assembly: {why}; rebuild the gateway with 'dotnet build src/Gateway'", inner);

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
