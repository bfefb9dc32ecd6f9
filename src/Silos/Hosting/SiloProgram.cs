using Llama4Cluster.Silos.Model;
using System.Net;
using Llama4Cluster.Cluster.Hosting;
using Llama4Cluster.Cluster.Placement;
using Llama4Cluster.Cluster.Processes;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Configuration;

namespace Llama4Cluster.Silos.Hosting;

/// <summary>
/// The silo process:
/// <c>--model DIR [--role expert|attention|all] [--redis HOST:PORT] [--device cpu|cuda:N] [--dtype float32|bfloat16|auto]
/// [--wire-dtype float32|bfloat16] [--data-plane orleans|tcp] [--shards S] [--expert-replicas R] [--ranks R] [--stages K] [--shared-experts rank|shards] [--port P] [--gateway-port G] [--cluster-id ID] [--threads N] [--parent-pid PID]
/// [--plan FILE] [--name NAME] [--advertise HOST] [--listen ADDRESS] [--advertise-unchecked true] [--http-port P] [--dashboard P]</c>
/// (the last two: <see cref="SiloOperationsHostingExtensions"/>).
/// With <c>--redis</c> silos of separate processes find each other through Redis membership; without it the process
/// is a single-silo localhost cluster (dev). With Redis the silo advertises <c>--advertise</c> (an IP or a host name,
/// resolved once at start), else the <c>POD_IP</c> environment variable (Kubernetes), else loopback; it binds
/// <c>--listen</c> (default: the advertised address) for Orleans and the data plane alike (<see cref="SiloAddresses"/>). Every flag is also a configuration key (<c>Llama4:*</c>, environment
/// <c>Llama4__*</c>). With <c>--parent-pid</c> the silo stops when that process is gone (an ephemeral cluster
/// started by <c>llama4 ... --engine cluster</c> never outlives its launcher, even one killed with SIGKILL).
/// With <c>--plan FILE</c> (a JSON plan from <c>llama4 plan ... --out FILE</c>) the silo places expert shards and attention
/// ranks by that plan; every silo of the cluster gets the same file, and each is started with <c>--name</c> set to its
/// silo entry in the plan (<c>host-0</c>, …), unless the plan's entries carry endpoints. A bad file stops the silo at
/// start with one line naming the file.
/// </summary>
public static class SiloProgram
{
    /// <summary>The usage line <c>--help</c> prints (after "usage: ").</summary>
    public const string Usage =
        "Llama4Cluster.Silos --model DIR [--role expert|attention|all] [--redis HOST:PORT] [--cluster-id ID] [--device cpu|cuda:N|plan] " +
        "[--dtype float32|bfloat16|auto] [--batch-invariant true|false] [--wire-dtype float32|bfloat16] [--data-plane tcp|orleans] [--data-plane-port P] [--shards S] [--expert-replicas R] [--ranks R] [--stages K] [--shared-experts rank|shards] " +
        "[--port P] [--gateway-port G] [--advertise HOST] [--listen ADDRESS] [--advertise-unchecked true] [--threads N] [--parent-pid PID] [--plan FILE] [--name NAME] " +
        "[--http-port P] [--dashboard P]";

    /// <summary>What <c>--help</c> says the host is, under the usage line.</summary>
    public const string Summary =
        "A silo of a Llama4Cluster: holds expert shards and/or attention ranks of one model and joins the cluster through Redis " +
        "(without --redis: a single-silo localhost cluster). Every flag is also a configuration key (environment Llama4__*, Orleans__*).";

    /// <summary>The flags, each onto its configuration key. Any other flag is a usage error (exit code 2).</summary>
    public static IReadOnlyList<ConfigurationFlag> Flags { get; } =
    [
        new("model", "DIR", "Llama4:ModelDirectory", "checkpoint directory in the Hugging Face layout (config.json + safetensors)"),
        new("role", "expert|attention|all", "Llama4:Role", "what this silo hosts (default all)"),
        new("redis", "HOST:PORT", "Orleans:Redis", "Redis for membership; silos and gateways of one cluster share it"),
        new("cluster-id", "ID", "Orleans:ClusterId", "the cluster's name in Redis (default llama4)"),
        new("device", "cpu|cuda:N|plan", "Llama4:Device", "where this silo computes (default cpu); plan: each grain on the device the --plan names"),
        new("dtype", "float32|bfloat16|auto", "Llama4:DType", "compute dtype; auto follows the checkpoint (default float32)"),
        new("batch-invariant", "true|false", "Llama4:BatchInvariant", "bf16 kernels whose result for a sequence does not depend on its batch (default false)"),
        new("wire-dtype", "float32|bfloat16", "Llama4:WireDType", "dtype of hidden states sent between silos"),
        new("data-plane", "tcp|orleans", "Llama4:DataPlane", "expert dispatch over this silo's socket (tcp) or grain calls"),
        new("data-plane-port", "P", "Llama4:DataPlanePort", "port of the socket data plane (default: chosen by the OS)"),
        new("shards", "S", "Llama4:ShardsPerLayer", "expert shards per MoE layer; every silo of the cluster agrees"),
        new("expert-replicas", "R", "Llama4:ExpertReplicas", "replicas of each expert shard, on distinct silos"),
        new("ranks", "R", "Llama4:AttentionRanks", "attention ranks of the cluster"),
        new("stages", "K", "Llama4:Stages", "pipeline stages per attention rank (contiguous layer ranges)"),
        new("shared-experts", "rank|shards", "Llama4:SharedExperts", "shared experts with their rank stage or as one more expert shard"),
        new("port", "P", "Orleans:SiloPort", "Orleans silo-to-silo port"),
        new("gateway-port", "G", "Orleans:GatewayPort", "Orleans client gateway port"),
        new("advertise", "HOST", "Orleans:Advertise", "address or host name other hosts reach this silo by (default: POD_IP, else this host's address)"),
        new("listen", "ADDRESS", "Orleans:Listen", "address to bind, 0.0.0.0 or :: for every interface (default: the advertised one)"),
        new("advertise-unchecked", "true|false", "Orleans:AdvertiseUnchecked", "advertise an address that is not this host's (behind NAT)"),
        new("threads", "N", "Llama4:TorchThreads", "torch threads of this process"),
        new("parent-pid", "PID", "Llama4:ParentProcessId", "stop when that process is gone"),
        new("plan", "FILE", "Llama4:PlacementPlanFile", "a plan from llama4 plan --out: place shards and rank stages by it"),
        new("name", "NAME", "Llama4:SiloName", "this silo's name in the plan"),
        .. SiloOperationsHostingExtensions.Flags,
    ];

    /// <summary>Flag → configuration key.</summary>
    public static IReadOnlyDictionary<string, string> Switches { get; } = ConfigurationFlag.Switches(Flags);

    /// <summary>Checks among flags that parsing alone cannot see.</summary>
    /// <exception cref="CommandLineException">A bad value or combination, named.</exception>
    private static void CheckFlags(IReadOnlyDictionary<string, string?> flags)
    {
        if (CommandLineFlags.CheckEnum<DataPlaneKind>("--data-plane", flags.GetValueOrDefault("Llama4:DataPlane")) is { } error)
            throw new CommandLineException(error);
        if (CommandLineFlags.CheckEnum<SharedExpertPlacement>("--shared-experts", flags.GetValueOrDefault("Llama4:SharedExperts")) is { } shared)
            throw new CommandLineException(shared);
        if (string.Equals(flags.GetValueOrDefault("Llama4:Device"), SiloModelContext.PlanDevice, StringComparison.OrdinalIgnoreCase)
            && string.IsNullOrWhiteSpace(flags.GetValueOrDefault("Llama4:PlacementPlanFile")))
            throw new CommandLineException("--device plan puts each grain on the device its placement plan names: give the plan with --plan FILE");
    }

    public static async Task<int> RunAsync(string[] args)
    {
        ArgumentNullException.ThrowIfNull(args);
        if (CommandLineFlags.WantsHelp(args))
        {
            await Console.Out.WriteAsync(CommandLineFlags.Help(Usage, Summary, Flags));
            return 0;
        }
        IReadOnlyDictionary<string, string?> flags;
        try
        {
            flags = CommandLineFlags.Parse(args, Flags);
            CheckFlags(flags);
        }
        catch (CommandLineException e)
        {
            await Console.Error.WriteLineAsync("error: " + e.Message);
            return 2;
        }
        // Not the process's args: the host's own command-line source would take any --Key value as configuration; the flags above are strict.
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { Args = [.. HostArguments.NoConfigReload] });
        builder.Configuration.AddInMemoryCollection(flags);
        builder.Logging.AddSimpleConsole(o => { o.SingleLine = true; o.TimestampFormat = "HH:mm:ss.fff "; });
        var orleans = builder.Configuration.GetSection("Orleans");
        string? redis = orleans["Redis"] ?? AspireOrleansWiring.RedisConnectionString(builder.Configuration);
        string clusterId = orleans["ClusterId"] ?? Llama4ClientOptions.DefaultClusterId;
        SiloAddresses addresses;
        try
        {
            addresses = ResolveAddresses(builder.Configuration, redis);
        }
        catch (SiloAddressException e)
        {
            await Console.Error.WriteLineAsync("error: " + e.Message);
            return 2;
        }
        builder.UseOrleans(silo => ConfigureOrleans(silo, orleans, redis, clusterId, builder.Configuration["Llama4:Role"], addresses));
        try
        {
            builder.AddSiloOperations(); // --http-port, --dashboard, OpenTelemetry
        }
        catch (CommandLineException e)
        {
            await Console.Error.WriteLineAsync("error: " + e.Message);
            return 2;
        }
        using var host = builder.Build();
        var log = host.Services.GetRequiredService<ILoggerFactory>().CreateLogger("Llama4Cluster.Silo");
        ClusterModelOptions model;
        PlacementPlan? plan;
        try
        {
            model = host.Services.GetRequiredService<IOptions<ClusterModelOptions>>().Value;
            plan = host.Services.GetRequiredService<Placement.IPlacementPlanProvider>().Current;
        }
        catch (OptionsValidationException e)
        {
            foreach (var failure in e.Failures) await Console.Error.WriteLineAsync("error: " + failure);
            return 2;
        }
        catch (PlacementPlanFileException e)
        {
            await Console.Error.WriteLineAsync("error: " + e.Message);
            return 2;
        }
        if (plan is not null)
            log.LogInformation("Placement plan {File} (silo name {Name}): {Summary}", model.PlacementPlanFile,
                string.IsNullOrEmpty(model.SiloName) ? "(Orleans default)" : model.SiloName, plan.Summary);
        log.LogInformation("Silo starting: role {Role}, model {Model}, device {Device}, dtype {DType}, wire {Wire}, data plane {DataPlane}, {Shards} shards/layer, clustering {Clustering}, address {Address}",
            model.Role, model.ModelDirectory, model.Device, model.DType, string.IsNullOrEmpty(model.WireDType) ? "(as dtype)" : model.WireDType, model.DataPlane, model.ShardsPerLayer,
            string.IsNullOrEmpty(redis) ? "localhost" : $"redis {redis} (cluster '{clusterId}')", addresses);
        if (builder.Configuration.GetValue<int?>("Llama4:ParentProcessId") is int parent)
            _ = WatchParentAsync(parent, host, log);
        _ = ReplicaAgreement.EnforceAsync(host, log);
        await host.RunAsync();
        return Environment.ExitCode;
    }

    /// <summary>
    /// The silo's addresses (<see cref="SiloAddresses.Resolve"/>) from <c>Orleans:Advertise</c>, <c>Orleans:Listen</c>,
    /// <c>Orleans:AdvertiseUnchecked</c> and <c>POD_IP</c>. Without Redis the silo is a localhost cluster: loopback, and
    /// an explicit address is an error (no other silo could join it).
    /// </summary>
    private static SiloAddresses ResolveAddresses(IConfiguration configuration, string? redis)
    {
        var orleans = configuration.GetSection("Orleans");
        string? advertise = orleans["Advertise"], listen = orleans["Listen"], uncheckedText = orleans["AdvertiseUnchecked"];
        bool advertiseUnchecked = false;
        if (!string.IsNullOrWhiteSpace(uncheckedText) && !bool.TryParse(uncheckedText.Trim(), out advertiseUnchecked))
            throw new SiloAddressException($"--advertise-unchecked '{uncheckedText}': use true or false");
        if (string.IsNullOrEmpty(redis))
        {
            if (!string.IsNullOrWhiteSpace(advertise) || !string.IsNullOrWhiteSpace(listen))
                throw new SiloAddressException("--advertise and --listen need --redis: without it the silo is a single-silo localhost cluster");
            return SiloAddresses.Loopback;
        }
        return SiloAddresses.Resolve(advertise, listen, advertiseUnchecked, configuration[SiloAddresses.PodIpVariable], HostAddresses.System);
    }

    /// <summary>Clustering and endpoints: localhost clustering without Redis; with it, Redis membership, the silo and
    /// gateway ports bound on the listen address and advertised on the advertised one, and the Redis directory for the
    /// model's grains.</summary>
    private static void ConfigureOrleans(ISiloBuilder silo, IConfigurationSection orleans, string? redis, string clusterId, string? role,
        SiloAddresses addresses)
    {
        if (string.IsNullOrEmpty(redis))
        {
            silo.UseLocalhostClustering();
        }
        else
        {
            if (!AspireOrleansWiring.AddConfiguredRedisClustering(silo.Services, silo.Configuration, redis)) silo.UseRedisClustering(redis);
            silo.Configure<ClusterOptions>(o =>
            {
                o.ClusterId = clusterId;
                o.ServiceId = Llama4ClientOptions.DefaultServiceId;
            });
            int siloPort = orleans.GetValue<int?>("SiloPort") ?? orleans.GetValue<int?>("Endpoints:SiloPort") ?? FreePorts.On(addresses.Listen);
            // Expert silos take no client connections unless asked: a client's request comes back through the gateway
            // silo it went in by, so the death of an expert silo that was a gateway would take healthy ranks' answers
            // with it. Clients enter through attention silos, whose death costs their own ranks anyway.
            int gatewayPort = orleans.GetValue<int?>("GatewayPort") ?? orleans.GetValue<int?>("Endpoints:GatewayPort") ?? (ExpertOnly(role) ? 0 : FreePorts.On(addresses.Listen));
            // Membership (and so the clients' gateway list) carries the advertised address; the sockets bind the listen
            // address. The data plane reads the same options (DataPlaneServer).
            silo.Configure<EndpointOptions>(o =>
            {
                o.AdvertisedIPAddress = addresses.Advertised;
                o.SiloPort = siloPort;
                o.GatewayPort = gatewayPort;
                o.SiloListeningEndpoint = new IPEndPoint(addresses.Listen, siloPort);
                o.GatewayListeningEndpoint = gatewayPort == 0 ? null : new IPEndPoint(addresses.Listen, gatewayPort);
            });
            silo.UseRedisDirectoryForModelGrains(redis);
        }
        silo.AddLlama4Silo();
    }

    private static bool ExpertOnly(string? role) => string.Equals(role?.Trim(), "expert", StringComparison.OrdinalIgnoreCase);

    /// <summary>Stops the silo (and, if stopping hangs, the process) once <paramref name="pid"/> has exited.</summary>
    private static async Task WatchParentAsync(int pid, IHost host, ILogger log)
    {
        while (IsAlive(pid)) await Task.Delay(TimeSpan.FromSeconds(1));
        log.LogWarning("Parent process {Pid} is gone: stopping", pid);
        _ = Task.Delay(TimeSpan.FromSeconds(10)).ContinueWith(_ => Environment.Exit(3), TaskScheduler.Default);
        await host.StopAsync();
    }

    private static bool IsAlive(int pid)
    {
        try
        {
            using var p = System.Diagnostics.Process.GetProcessById(pid);
            return !p.HasExited;
        }
        catch (ArgumentException)
        {
            return false;
        }
    }
}
