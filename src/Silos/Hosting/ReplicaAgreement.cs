using System.Globalization;
using Llama4Cluster.Silos.Model;
using Llama4Cluster.Silos.Placement;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Runtime.MembershipService.SiloMetadata;

namespace Llama4Cluster.Silos.Hosting;

/// <summary>
/// Every silo of a cluster must agree on <c>--expert-replicas</c> (the dispatchers of all attention ranks and the
/// director must see the same replica keys) and on <c>--shared-experts</c> (ranks and shards must agree on who computes
/// each layer's shared expert). After joining, a silo compares its value with what every older active silo
/// advertises (<see cref="SiloMetadataKeys.ExpertReplicas"/>, <see cref="SiloMetadataKeys.SharedExperts"/>) and, on a mismatch, refuses: it prints one line naming
/// both values and stops with exit code 2. Only the newcomer refuses, so a running cluster never stops for it.
/// </summary>
internal static class ReplicaAgreement
{
    private static readonly TimeSpan s_window = TimeSpan.FromSeconds(15);

    /// <summary>Watches the membership for <see cref="s_window"/> after start; returns the refusal line, or null.</summary>
    public static async Task<string?> CheckAsync(IServiceProvider services, CancellationToken cancellationToken)
    {
        var membership = services.GetRequiredService<IClusterMembershipService>();
        var metadata = services.GetRequiredService<ISiloMetadataCache>();
        var self = services.GetRequiredService<ILocalSiloDetails>().SiloAddress;
        var options = services.GetRequiredService<IOptions<ClusterModelOptions>>().Value;
        int mine = options.ExpertReplicas;
        string myShared = Llama4SiloHostingExtensions.SharedExpertsText(options.SharedExperts);
        var until = DateTime.UtcNow + s_window;
        while (DateTime.UtcNow < until && !cancellationToken.IsCancellationRequested)
        {
            foreach (var (silo, member) in membership.CurrentSnapshot.Members)
            {
                if (silo.Equals(self) || member.Status != SiloStatus.Active || silo.Generation >= self.Generation) continue;
                var advertised = metadata.GetSiloMetadata(silo).Metadata;
                if (advertised.TryGetValue(SiloMetadataKeys.ExpertReplicas, out var text)
                    && int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int theirs) && theirs != mine)
                {
                    return $"this silo has --expert-replicas {mine} but silo {member.Name} ({silo.Endpoint}) of the running cluster has " +
                        $"--expert-replicas {theirs}: every silo of a cluster must use the same value";
                }
                // Ranks and shards must agree on who computes the shared experts, or a layer gets it twice or never.
                if (advertised.TryGetValue(SiloMetadataKeys.SharedExperts, out var shared) && shared != myShared)
                {
                    return $"this silo has --shared-experts {myShared} but silo {member.Name} ({silo.Endpoint}) of the running cluster has " +
                        $"--shared-experts {shared}: every silo of a cluster must use the same value";
                }
            }

            await Task.Delay(TimeSpan.FromMilliseconds(500), cancellationToken).ConfigureAwait(false);
        }

        return null;
    }

    /// <summary>Runs the check beside the host; on a refusal prints it, stops the host and sets exit code 2.</summary>
    public static async Task EnforceAsync(IHost host, ILogger log)
    {
        var lifetime = host.Services.GetRequiredService<IHostApplicationLifetime>();
        try
        {
            // The membership service answers only once the silo has started.
            await Task.Delay(Timeout.Infinite, lifetime.ApplicationStarted).ContinueWith(_ => { }, TaskScheduler.Default);
            if (await CheckAsync(host.Services, lifetime.ApplicationStopping) is not { } refusal) return;
            log.LogCritical("Refusing to serve: {Refusal}", refusal);
            await Console.Error.WriteLineAsync("error: " + refusal);
            Environment.ExitCode = 2;
            await host.StopAsync();
        }
        catch (OperationCanceledException)
        {
            // Stopping.
        }
    }
}
