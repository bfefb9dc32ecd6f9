using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Configuration;

namespace Llama4Cluster.Silos.Hosting;

/// <summary>
/// The silo process:
/// <c>--model DIR [--role expert|attention|all] [--redis HOST:PORT] [--device cpu|cuda:N] [--dtype bf16|fp32]
/// [--wire-dtype bf16|fp32] [--data-plane orleans|tcp] [--shards S] [--ranks R] [--port P] [--gateway-port G] [--cluster-id ID] [--threads N] [--parent-pid PID]
/// [--plan FILE] [--name NAME]</c>.
/// With <c>--redis</c> silos of separate processes find each other through Redis membership; without it the process
/// is a single-silo localhost cluster (dev). Every flag is also a configuration key (<c>Llama4:*</c>, environment
/// <c>Llama4__*</c>). With <c>--parent-pid</c> the silo stops when that process is gone (an ephemeral cluster
/// started by <c>llama4 ... --engine cluster</c> never outlives its launcher, even one killed with SIGKILL).
/// With <c>--plan FILE</c> (a JSON plan from <c>llama4 plan ... --out FILE</c>) the silo places expert shards and attention
/// ranks by that plan; every silo of the cluster gets the same file, and each is started with <c>--name</c> set to its
/// silo entry in the plan (<c>host-0</c>, …), unless the plan's entries carry endpoints. A bad file stops the silo at
/// start with one line naming the file.
/// </summary>
public static class SiloProgram
{
    private static readonly Dictionary<string, string> Switches = new()
    {
        ["--model"] = "Llama4:ModelDirectory",
        ["--device"] = "Llama4:Device",
        ["--dtype"] = "Llama4:DType",
        ["--wire-dtype"] = "Llama4:WireDType",
        ["--shards"] = "Llama4:ShardsPerLayer",
        ["--ranks"] = "Llama4:AttentionRanks",
        ["--role"] = "Llama4:Role",
        ["--threads"] = "Llama4:TorchThreads",
        ["--data-plane"] = "Llama4:DataPlane",
        ["--data-plane-port"] = "Llama4:DataPlanePort",
        ["--redis"] = "Orleans:Redis",
        ["--port"] = "Orleans:SiloPort",
        ["--gateway-port"] = "Orleans:GatewayPort",
        ["--cluster-id"] = "Orleans:ClusterId",
        ["--parent-pid"] = "Llama4:ParentProcessId",
        ["--plan"] = "Llama4:PlacementPlanFile",
        ["--name"] = "Llama4:SiloName",
    };

    public static async Task<int> RunAsync(string[] args)
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Configuration.AddCommandLine(args, Switches);
        builder.Logging.AddSimpleConsole(o => { o.SingleLine = true; o.TimestampFormat = "HH:mm:ss.fff "; });
        var orleans = builder.Configuration.GetSection("Orleans");
        string? redis = orleans["Redis"];
        string clusterId = orleans["ClusterId"] ?? "llama4";
        builder.UseOrleans(silo =>
        {
            if (string.IsNullOrEmpty(redis))
            {
                silo.UseLocalhostClustering();
            }
            else
            {
                silo.UseRedisClustering(redis);
                silo.Configure<ClusterOptions>(o =>
                {
                    o.ClusterId = clusterId;
                    o.ServiceId = "llama4";
                });
                int siloPort = orleans.GetValue<int?>("SiloPort") ?? FreePort();
                int gatewayPort = orleans.GetValue<int?>("GatewayPort") ?? FreePort();
                silo.ConfigureEndpoints(IPAddress.Loopback, siloPort, gatewayPort);
            }
            silo.AddLlama4Silo();
        });
        using var host = builder.Build();
        var log = host.Services.GetRequiredService<ILoggerFactory>().CreateLogger("Llama4Cluster.Silo");
        ClusterModelOptions model;
        Placement.PlacementPlan? plan;
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
        catch (Placement.PlacementPlanFileException e)
        {
            await Console.Error.WriteLineAsync("error: " + e.Message);
            return 2;
        }
        if (plan is not null)
            log.LogInformation("Placement plan {File} (silo name {Name}): {Summary}", model.PlacementPlanFile,
                string.IsNullOrEmpty(model.SiloName) ? "(Orleans default)" : model.SiloName, plan.Summary);
        log.LogInformation("Silo starting: role {Role}, model {Model}, device {Device}, dtype {DType}, wire {Wire}, {Shards} shards/layer, clustering {Clustering}",
            model.Role, model.ModelDirectory, model.Device, model.DType, model.WireDType, model.ShardsPerLayer,
            string.IsNullOrEmpty(redis) ? "localhost" : $"redis {redis} (cluster '{clusterId}')");
        if (builder.Configuration.GetValue<int?>("Llama4:ParentProcessId") is int parent)
            _ = WatchParentAsync(parent, host, log);
        await host.RunAsync();
        return 0;
    }

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

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
