using k8s;
using System.Text.RegularExpressions;
using k8s.Models;
using Llama4Cluster.Cluster.Placement;

namespace Llama4Cluster.Cli.Tests.Deploy;

/// <summary>
/// What every rendered kustomization must satisfy, hand-written (deploy/k8s/base and its overlays) or written by
/// <c>llama4 plan … --k8s-out</c>: shared by <see cref="KubernetesManifestTests"/> and <see cref="PlanK8sOutTests"/>.
/// </summary>
internal static partial class ManifestChecks
{
    public const string Gateway = "llama4-gateway";

    public static readonly IReadOnlySet<string> GatewayFlags = RenderedManifests.HostFlags("src/Gateway/Hosting/GatewayCommandLine.cs");

    /// <summary>The silo host's flags: its own table and the operations side's (<c>--http-port</c>, <c>--dashboard</c>).</summary>
    public static readonly IReadOnlySet<string> SiloFlags =
        RenderedManifests.HostFlags("src/Silos/Hosting/SiloProgram.cs", "src/Silos/Hosting/SiloOperationsHostingExtensions.cs");

    public static void RendersIntoTypedObjects(RenderedManifests m)
    {
        Assert.All(m.Objects, o => Assert.IsAssignableFrom<IKubernetesObject<V1ObjectMeta>>(o));
        m.Single<V1Deployment>(Gateway);
        m.Single<V1Service>(Gateway);
        m.Single<V2HorizontalPodAutoscaler>(Gateway);
        m.Single<V1Deployment>("redis");
        m.Single<V1Service>("redis");
        m.Single<V1PersistentVolumeClaim>("llama4-model");
        m.Single<V1Job>("llama4-model-download");
        Assert.NotEmpty(m.Silos);
        Assert.Equal("1", m.Single<V1PodDisruptionBudget>(Gateway).Spec.MaxUnavailable?.Value);
        foreach (var silo in m.Silos)
        {
            // Every silo pod is under a budget that lets a drain take one pod at a time.
            var labels = silo.Spec.Template.Metadata.Labels;
            var budget = Assert.Single(m.Objects.OfType<V1PodDisruptionBudget>(), b => Selects(b.Spec.Selector, labels));
            Assert.Equal("1", budget.Spec.MaxUnavailable?.Value);
        }
    }

    public static void GatewayProbesHitItsEndpointsOnItsPort(RenderedManifests m)
    {
        var gateway = RenderedManifests.Container(m.Single<V1Deployment>(Gateway).Spec.Template);
        var flags = RenderedManifests.Flags(gateway);
        int port = int.Parse(flags["--port"]);
        Assert.Equal(port, RenderedManifests.Port(gateway, "http"));
        Assert.Equal("0.0.0.0", flags["--host"]); // the default, localhost, is out of the kubelet's reach
        Assert.Equal("/health", gateway.LivenessProbe.HttpGet.Path);
        Assert.Equal("/ready", gateway.ReadinessProbe.HttpGet.Path);
        foreach (var probe in new[] { gateway.LivenessProbe, gateway.ReadinessProbe })
            Assert.Contains(probe.HttpGet.Port.Value, new[] { "http", port.ToString() });
        var service = Assert.Single(m.Single<V1Service>(Gateway).Spec.Ports);
        Assert.Contains(service.TargetPort.Value, new[] { "http", port.ToString() });
    }

    /// <summary>Silos are probed on their status endpoint (<c>--http-port</c>, StatusEndpoint in ServiceDefaults): the paths
    /// are the ones it maps, the port is the container's <c>http</c> port and the flag's value, and the startup probe gives
    /// the silo at least 10 minutes before liveness takes over.</summary>
    public static void SiloProbesHitTheStatusEndpointOnItsHttpPort(RenderedManifests m)
    {
        var mapped = MapGet().Matches(RenderedManifests.Source("aspire/Llama4Cluster.ServiceDefaults/StatusEndpoint.cs"))
            .Select(x => x.Groups[1].Value).ToHashSet(StringComparer.Ordinal);
        Assert.Superset(new HashSet<string> { "/health", "/ready" }, mapped);
        foreach (var silo in m.Silos)
        {
            var container = RenderedManifests.Container(silo.Spec.Template);
            var flags = RenderedManifests.Flags(container);
            Assert.True(flags.ContainsKey("--http-port"), $"{silo.Metadata.Name}: no --http-port, so nothing answers the probes");
            int port = int.Parse(flags["--http-port"]);
            Assert.Equal(port, RenderedManifests.Port(container, "http"));
            Assert.Equal("/health", container.LivenessProbe?.HttpGet?.Path);
            Assert.Equal("/ready", container.ReadinessProbe?.HttpGet?.Path);
            Assert.Equal("/ready", container.StartupProbe?.HttpGet?.Path);
            foreach (var probe in new[] { container.LivenessProbe!, container.ReadinessProbe!, container.StartupProbe! })
            {
                Assert.Null(probe.TcpSocket);
                Assert.Contains(probe.HttpGet.Path, mapped);
                Assert.Contains(probe.HttpGet.Port.Value, new[] { "http", port.ToString() });
            }
            var startup = container.StartupProbe!;
            Assert.True((startup.PeriodSeconds ?? 10) * (startup.FailureThreshold ?? 3) >= 600, $"{silo.Metadata.Name}: the startup probe allows less than 10 minutes");
        }
    }

    public static void EveryContainerFlagIsOneItsHostAccepts(RenderedManifests m)
    {
        foreach (var flag in RenderedManifests.Flags(RenderedManifests.Container(m.Single<V1Deployment>(Gateway).Spec.Template)).Keys)
            Assert.True(GatewayFlags.Contains(flag), $"the gateway has no flag {flag}");
        foreach (var silo in m.Silos)
            foreach (var flag in RenderedManifests.Flags(RenderedManifests.Container(silo.Spec.Template)).Keys)
                Assert.True(SiloFlags.Contains(flag), $"{silo.Metadata.Name}: the silo host has no flag {flag}");
    }

    public static void SilosAndGatewayAgreeOnTheClusterShape(RenderedManifests m)
    {
        var gateway = RenderedManifests.Flags(RenderedManifests.Container(m.Single<V1Deployment>(Gateway).Spec.Template));
        var silos = m.Silos.Select(s => (Set: s, Pod: RenderedManifests.Container(s.Spec.Template))).ToList();
        var first = RenderedManifests.Flags(silos[0].Pod);
        var redis = Assert.Single(m.Single<V1Service>("redis").Spec.Ports);
        foreach (var flags in silos.Select(s => RenderedManifests.Flags(s.Pod)).Append(gateway))
        {
            Assert.Equal($"redis:{redis.Port}", flags["--redis"]);
            foreach (var key in new[] { "--cluster-id", "--ranks", "--shards" })
                Assert.Equal(first[key], flags[key]);
        }
        foreach (var (set, pod) in silos)
        {
            var flags = RenderedManifests.Flags(pod);
            Assert.Equal(first["--expert-replicas"], flags["--expert-replicas"]); // the silos refuse to start otherwise
            // Clients enter through silos that can hold attention ranks only (an expert silo's death must not take other
            // requests with it).
            if (flags["--role"] == "expert")
                Assert.False(flags.ContainsKey("--gateway-port"), $"{set.Metadata.Name}: expert silos take no client connections");
            else
                Assert.Equal(int.Parse(flags["--gateway-port"]), RenderedManifests.Port(pod, "orleans-gateway"));
            Assert.Equal(int.Parse(flags["--port"]), RenderedManifests.Port(pod, "silo"));
            Assert.Equal(int.Parse(flags["--data-plane-port"]), RenderedManifests.Port(pod, "data-plane"));
        }
        Assert.Contains(silos, s => RenderedManifests.Flags(s.Pod)["--role"] is "attention" or "all");
        Assert.Contains(silos, s => RenderedManifests.Flags(s.Pod)["--role"] is "expert" or "all");
    }

    public static void SilosAdvertiseTheirPodIpAndListenOnEveryInterface(RenderedManifests m)
    {
        foreach (var silo in m.Silos)
        {
            var container = RenderedManifests.Container(silo.Spec.Template);
            var flags = RenderedManifests.Flags(container);
            Assert.Equal("$(POD_IP)", flags["--advertise"]);
            Assert.Equal("0.0.0.0", flags["--listen"]);
            Assert.False(flags.ContainsKey("--advertise-unchecked"), $"{silo.Metadata.Name}: a pod IP is the pod's own");
            var podIp = Assert.Single(container.Env ?? [], e => e.Name == "POD_IP");
            Assert.Equal("status.podIP", podIp.ValueFrom?.FieldRef?.FieldPath);
        }
    }

    public static void WeightsAreMountedReadOnlyWhereModelPoints(RenderedManifests m)
    {
        foreach (var template in m.Silos.Select(s => s.Spec.Template).Append(m.Single<V1Deployment>(Gateway).Spec.Template))
        {
            var volume = Assert.Single(template.Spec.Volumes, v => v.PersistentVolumeClaim?.ClaimName == "llama4-model");
            Assert.True(volume.PersistentVolumeClaim.ReadOnlyProperty);
            var container = RenderedManifests.Container(template);
            var mount = Assert.Single(container.VolumeMounts, v => v.Name == volume.Name);
            Assert.True(mount.ReadOnlyProperty);
            Assert.StartsWith(mount.MountPath.TrimEnd('/') + "/", RenderedManifests.Flags(container)["--model"], StringComparison.Ordinal);
        }
    }

    /// <summary>CUDA silos request (and limit) GPUs: one per pod in the hand-written overlays (seen as cuda:0), as many as
    /// the plan gives the silo devices in a planned one, whose silos take each grain's device from the plan (<c>--device
    /// plan</c>); and they tolerate GPU nodes' taints and select GPU nodes.</summary>
    public static void CudaSilosRequestTheirGpusAndTolerateGpuNodes(RenderedManifests m)
    {
        foreach (var silo in m.Silos)
        {
            var template = silo.Spec.Template;
            var container = RenderedManifests.Container(template);
            var flags = RenderedManifests.Flags(container);
            string device = flags["--device"];
            bool cuda = m.Plan is { } planned
                ? planned.Inventory.Find(flags["--name"])!.Devices.All(d => d.Device.StartsWith("cuda", StringComparison.Ordinal))
                : device.StartsWith("cuda", StringComparison.Ordinal);
            bool gpu = container.Resources?.Limits?.ContainsKey("nvidia.com/gpu") == true;
            Assert.Equal(cuda, gpu);
            if (!cuda) continue;
            int expected = m.Plan is { } plan ? plan.Inventory.Find(flags["--name"])!.Devices.Length : 1;
            Assert.Equal(expected.ToString(), container.Resources!.Limits["nvidia.com/gpu"].ToString());
            Assert.Equal(expected.ToString(), container.Resources.Requests["nvidia.com/gpu"].ToString());
            Assert.Equal(m.Plan is null ? "cuda:0" : "plan", device);
            Assert.Contains(template.Spec.Tolerations ?? [], t => t.Key == "nvidia.com/gpu");
            Assert.NotEmpty(template.Spec.NodeSelector ?? new Dictionary<string, string>());
        }
    }

    /// <summary>
    /// A shard's replicas never share a node. Hand-written overlays: with <c>--expert-replicas</c> above 1 the expert pods
    /// carry a required anti-affinity on each other per <c>kubernetes.io/hostname</c>. Planned overlays: for every two
    /// silos that hold replicas of one shard (or stages of different attention ranks), each pod's required anti-affinity
    /// selects the other pod.
    /// </summary>
    public static void ShardReplicasNeverShareANode(RenderedManifests m)
    {
        if (m.Plan is { } plan)
        {
            var pods = PodsBySilo(m, plan);
            int pairs = 0;
            foreach (var group in plan.ExpertShards.GroupBy(s => (s.Layer, s.Shard)))
                foreach (var a in group.Select(s => s.Silo).Distinct())
                    foreach (var b in group.Select(s => s.Silo).Distinct().Where(b => b != a))
                    {
                        KeptApart(pods[a], pods[b], $"{m.Name}: silos {a} and {b} hold replicas of layer {group.Key.Layer} shard {group.Key.Shard}");
                        pairs++;
                    }
            if (plan.Replicas > 1) Assert.True(pairs > 0, "replicated plan with no replica pairs on distinct silos");
            var ranks = plan.AttentionRanks.Select(r => r.Stages.Select(s => s.Silo).Append(r.Silo).Distinct().ToList()).ToList();
            for (int i = 0; i < ranks.Count; i++)
                for (int j = i + 1; j < ranks.Count; j++)
                    foreach (var a in ranks[i])
                        foreach (var b in ranks[j].Where(b => b != a))
                            KeptApart(pods[a], pods[b], $"{m.Name}: silos {a} and {b} hold different attention ranks");
            return;
        }
        var set = m.Single<V1StatefulSet>("llama4-expert");
        int replicas = int.Parse(RenderedManifests.Flags(RenderedManifests.Container(set.Spec.Template))["--expert-replicas"]);
        var terms = set.Spec.Template.Spec.Affinity?.PodAntiAffinity?.RequiredDuringSchedulingIgnoredDuringExecution;
        if (replicas == 1)
        {
            Assert.True(terms is null or { Count: 0 }, $"{m.Name}: one copy of each shard needs no anti-affinity (and a one-node cluster could not schedule it)");
            return;
        }
        Assert.True(terms is { Count: > 0 }, $"{m.Name}: --expert-replicas {replicas} without required pod anti-affinity");
        var term = Assert.Single(terms, t => t.TopologyKey == "kubernetes.io/hostname");
        Assert.True(Selects(term.LabelSelector, set.Spec.Template.Metadata.Labels)); // the rule selects the expert pods themselves
    }

    /// <summary>The gateway scales on a per-pod metric that its /metrics really exports (a gauge in GatewayMetrics), its
    /// pods are annotated for Prometheus to scrape that port, and the Prometheus adapter's values serve that series under
    /// the name the autoscaler asks for.</summary>
    public static void GatewayScalesOnWaitingRequests(RenderedManifests m)
    {
        var hpa = m.Single<V2HorizontalPodAutoscaler>(Gateway);
        Assert.Equal("autoscaling/v2", hpa.ApiVersion);
        Assert.Equal(("apps/v1", "Deployment", Gateway), (hpa.Spec.ScaleTargetRef.ApiVersion, hpa.Spec.ScaleTargetRef.Kind, hpa.Spec.ScaleTargetRef.Name));
        Assert.True(hpa.Spec.MinReplicas >= 1);
        Assert.True(hpa.Spec.MaxReplicas > hpa.Spec.MinReplicas);
        var metric = Assert.Single(hpa.Spec.Metrics);
        Assert.Equal("Pods", metric.Type);
        Assert.Equal("vllm:num_requests_waiting", metric.Pods.Metric.Name);
        Assert.Equal("AverageValue", metric.Pods.Target.Type);
        var gauges = Gauge().Matches(RenderedManifests.Source("src/Gateway/Api/GatewayMetrics.cs")).Select(x => x.Groups[1].Value).ToHashSet();
        Assert.Contains(metric.Pods.Metric.Name, gauges);
        var template = m.Single<V1Deployment>(Gateway).Spec.Template;
        var port = RenderedManifests.Flags(RenderedManifests.Container(template))["--port"];
        Assert.Equal("true", template.Metadata.Annotations["prometheus.io/scrape"]);
        Assert.Equal(port, template.Metadata.Annotations["prometheus.io/port"]);
        Assert.Equal("/metrics", template.Metadata.Annotations["prometheus.io/path"]);
        string adapter = RenderedManifests.Source("deploy/k8s/monitoring/prometheus-adapter-values.yaml");
        Assert.Contains($"seriesQuery: '{metric.Pods.Metric.Name}{{", adapter, StringComparison.Ordinal);
        Assert.Contains($"as: \"{metric.Pods.Metric.Name}\"", adapter, StringComparison.Ordinal);
    }

    /// <summary>A planned overlay's silo pods by the plan's silo name (their <c>--name</c>).</summary>
    public static Dictionary<string, V1PodTemplateSpec> PodsBySilo(RenderedManifests m, PlacementPlan plan) =>
        m.Silos.Select(s => s.Spec.Template).ToDictionary(t => RenderedManifests.Flags(RenderedManifests.Container(t))["--name"], StringComparer.Ordinal);

    private static void KeptApart(V1PodTemplateSpec a, V1PodTemplateSpec b, string what)
    {
        var terms = a.Spec.Affinity?.PodAntiAffinity?.RequiredDuringSchedulingIgnoredDuringExecution ?? [];
        Assert.True(terms.Any(t => t.TopologyKey == "kubernetes.io/hostname" && Selects(t.LabelSelector, b.Metadata.Labels)),
            $"{what}, but their pods may share a node");
    }

    /// <summary>Whether a label selector (matchLabels and In/NotIn/Exists/DoesNotExist expressions) selects these labels.</summary>
    public static bool Selects(V1LabelSelector selector, IDictionary<string, string> labels)
    {
        foreach (var (key, value) in selector.MatchLabels ?? new Dictionary<string, string>())
            if (!labels.TryGetValue(key, out var v) || v != value) return false;
        foreach (var e in selector.MatchExpressions ?? [])
        {
            bool has = labels.TryGetValue(e.Key, out var v);
            bool ok = e.OperatorProperty switch
            {
                "In" => has && e.Values.Contains(v!),
                "NotIn" => !has || !e.Values.Contains(v!),
                "Exists" => has,
                "DoesNotExist" => !has,
                _ => throw new InvalidOperationException($"unknown selector operator {e.OperatorProperty}"),
            };
            if (!ok) return false;
        }
        return true;
    }

    [GeneratedRegex(@"MapGet\(""(/[a-z]+)""")]
    private static partial Regex MapGet();

    [GeneratedRegex(@"Gauge\(text, ""([a-z0-9_:]+)""")]
    private static partial Regex Gauge();
}
