using k8s;
using k8s.Models;

namespace Llama4Cluster.Cli.Tests.Deploy;

/// <summary>
/// deploy/k8s, validated offline: every kustomization renders, every object loads into the typed Kubernetes models, the
/// gateway's probes hit its real endpoints on its real <c>--port</c>, every container flag is one its host accepts, the
/// silos and the gateway agree on the cluster's shape, the silos advertise their pod IPs, and a shard's replicas can never
/// share a node.
/// </summary>
public sealed class KubernetesManifestTests
{
    private const string Gateway = "llama4-gateway";
    private const string Attention = "llama4-attention";
    private const string Expert = "llama4-expert";

    private static readonly IReadOnlySet<string> GatewayFlags = RenderedManifests.HostFlags("src/Gateway/Hosting/GatewayCommandLine.cs");
    private static readonly IReadOnlySet<string> SiloFlags = RenderedManifests.HostFlags("src/Silos/Hosting/SiloProgram.cs")
        .Union(RenderedManifests.OperationFlags("src/Silos/Hosting/SiloOperationsHostingExtensions.cs")).ToHashSet(StringComparer.Ordinal);

    public static TheoryData<string> Kustomizations() => new(RenderedManifests.Kustomizations());

    [Fact]
    public void TheOverlaysTheReadmeNamesExist()
    {
        var all = RenderedManifests.Kustomizations().ToList();
        Assert.Contains("overlays/cpu-tiny", all);
        Assert.Contains("overlays/maverick-fp8-8xh100", all);
        string readme = File.ReadAllText(Path.Combine(RenderedManifests.K8sDirectory, "README.md"));
        foreach (var overlay in all.Where(k => k.StartsWith("overlays/", StringComparison.Ordinal)))
            Assert.Contains(overlay, readme, StringComparison.Ordinal);
    }

    [KubectlTheory]
    [MemberData(nameof(Kustomizations))]
    public void RendersIntoTypedObjects(string kustomization)
    {
        var m = RenderedManifests.Render(kustomization);
        Assert.All(m.Objects, o => Assert.IsAssignableFrom<IKubernetesObject<V1ObjectMeta>>(o));
        m.Single<V1Deployment>(Gateway);
        m.Single<V1Service>(Gateway);
        m.Single<V1Deployment>("redis");
        m.Single<V1Service>("redis");
        m.Single<V1StatefulSet>(Attention);
        m.Single<V1StatefulSet>(Expert);
        foreach (var name in new[] { Gateway, Attention, Expert })
            Assert.Equal("1", m.Single<V1PodDisruptionBudget>(name).Spec.MaxUnavailable?.Value); // drains take one pod at a time
        m.Single<V1PersistentVolumeClaim>("llama4-model");
        m.Single<V1Job>("llama4-model-download");
        m.Single<V2HorizontalPodAutoscaler>(Gateway);
    }

    /// <summary>A silo's probes are its <c>--http-port</c> endpoints: <c>/health</c> (the process is up) for start-up and
    /// liveness, <c>/ready</c> (joined the cluster) for readiness.</summary>
    [KubectlTheory]
    [MemberData(nameof(Kustomizations))]
    public void SiloProbesHitTheirEndpointsOnTheirHttpPort(string kustomization)
    {
        var m = RenderedManifests.Render(kustomization);
        foreach (var silo in new[] { Attention, Expert })
        {
            var template = m.Single<V1StatefulSet>(silo).Spec.Template;
            var container = RenderedManifests.Container(template);
            int port = int.Parse(RenderedManifests.Flags(container)["--http-port"]);
            Assert.Equal(port, RenderedManifests.Port(container, "http"));
            Assert.Equal("/health", container.StartupProbe.HttpGet.Path);
            Assert.Equal("/health", container.LivenessProbe.HttpGet.Path);
            Assert.Equal("/ready", container.ReadinessProbe.HttpGet.Path);
            foreach (var probe in new[] { container.StartupProbe, container.LivenessProbe, container.ReadinessProbe })
                Assert.Contains(probe.HttpGet.Port.Value, new[] { "http", port.ToString() });
            Assert.Equal(port.ToString(), template.Metadata.Annotations["prometheus.io/port"]); // the scrape reads /metrics there
        }
    }

    /// <summary>The gateway scales on its own waiting-requests series, as a custom-metrics adapter names it
    /// (<c>vllm:x</c> → <c>vllm_x</c>), and the series is one the gateway really exports.</summary>
    [KubectlTheory]
    [MemberData(nameof(Kustomizations))]
    public void TheGatewayAutoscalesOnAQueueItReallyExports(string kustomization)
    {
        var m = RenderedManifests.Render(kustomization);
        var hpa = m.Single<V2HorizontalPodAutoscaler>(Gateway);
        Assert.Equal(("Deployment", Gateway), (hpa.Spec.ScaleTargetRef.Kind, hpa.Spec.ScaleTargetRef.Name));
        Assert.True(hpa.Spec.MinReplicas >= 1 && hpa.Spec.MaxReplicas > hpa.Spec.MinReplicas);
        var metric = Assert.Single(hpa.Spec.Metrics);
        Assert.Equal("Pods", metric.Type);
        string series = "vllm:" + metric.Pods.Metric.Name["vllm_".Length..];
        Assert.Equal("vllm:num_requests_waiting", series);
        string gatewaySource = string.Concat(Directory.GetFiles(Path.Combine(RenderedManifests.RepositoryRoot, "src", "Gateway"), "*.cs", SearchOption.AllDirectories)
            .Select(File.ReadAllText));
        Assert.Contains($"\"{series}\"", gatewaySource);
    }

    [KubectlTheory]
    [MemberData(nameof(Kustomizations))]
    public void GatewayProbesHitItsEndpointsOnItsPort(string kustomization)
    {
        var m = RenderedManifests.Render(kustomization);
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

    [KubectlTheory]
    [MemberData(nameof(Kustomizations))]
    public void EveryContainerFlagIsOneItsHostAccepts(string kustomization)
    {
        var m = RenderedManifests.Render(kustomization);
        foreach (var flag in RenderedManifests.Flags(RenderedManifests.Container(m.Single<V1Deployment>(Gateway).Spec.Template)).Keys)
            Assert.True(GatewayFlags.Contains(flag), $"the gateway has no flag {flag}");
        foreach (var silo in new[] { Attention, Expert })
            foreach (var flag in RenderedManifests.Flags(RenderedManifests.Container(m.Single<V1StatefulSet>(silo).Spec.Template)).Keys)
                Assert.True(SiloFlags.Contains(flag), $"{silo}: the silo host has no flag {flag}");
    }

    [KubectlTheory]
    [MemberData(nameof(Kustomizations))]
    public void SilosAndGatewayAgreeOnTheClusterShape(string kustomization)
    {
        var m = RenderedManifests.Render(kustomization);
        var gateway = RenderedManifests.Flags(RenderedManifests.Container(m.Single<V1Deployment>(Gateway).Spec.Template));
        var attentionSet = m.Single<V1StatefulSet>(Attention);
        var attentionPod = RenderedManifests.Container(attentionSet.Spec.Template);
        var attention = RenderedManifests.Flags(attentionPod);
        var expertPod = RenderedManifests.Container(m.Single<V1StatefulSet>(Expert).Spec.Template);
        var expert = RenderedManifests.Flags(expertPod);
        var redis = Assert.Single(m.Single<V1Service>("redis").Spec.Ports);
        foreach (var flags in new[] { gateway, attention, expert })
        {
            Assert.Equal($"redis:{redis.Port}", flags["--redis"]);
            foreach (var key in new[] { "--cluster-id", "--ranks", "--shards" })
                Assert.Equal(attention[key], flags[key]);
        }
        Assert.Equal(attention["--expert-replicas"], expert["--expert-replicas"]); // the silos refuse to start otherwise
        Assert.Equal("attention", attention["--role"]);
        Assert.Equal("expert", expert["--role"]);
        Assert.Equal(int.Parse(attention["--ranks"]), attentionSet.Spec.Replicas); // one pod per attention rank
        Assert.True(m.Single<V1StatefulSet>(Expert).Spec.Replicas >= int.Parse(expert["--expert-replicas"]));
        // Clients enter through attention silos only (an expert silo's death must not take other requests with it).
        Assert.Equal(int.Parse(attention["--gateway-port"]), RenderedManifests.Port(attentionPod, "orleans-gateway"));
        Assert.False(expert.ContainsKey("--gateway-port"), "expert silos take no client connections");
        foreach (var (pod, flags) in new[] { (attentionPod, attention), (expertPod, expert) })
        {
            Assert.Equal(int.Parse(flags["--port"]), RenderedManifests.Port(pod, "silo"));
            Assert.Equal(int.Parse(flags["--data-plane-port"]), RenderedManifests.Port(pod, "data-plane"));
        }
    }

    /// <summary>Loopback, the silo host's default, is out of every other pod's reach: each silo advertises its pod IP (from the
    /// downward API, which <c>$(POD_IP)</c> in its args expands to) and binds every interface.</summary>
    [KubectlTheory]
    [MemberData(nameof(Kustomizations))]
    public void SilosAdvertiseTheirPodIpAndListenOnEveryInterface(string kustomization)
    {
        var m = RenderedManifests.Render(kustomization);
        foreach (var silo in new[] { Attention, Expert })
        {
            var container = RenderedManifests.Container(m.Single<V1StatefulSet>(silo).Spec.Template);
            var flags = RenderedManifests.Flags(container);
            Assert.Equal("$(POD_IP)", flags["--advertise"]);
            Assert.Equal("0.0.0.0", flags["--listen"]);
            Assert.False(flags.ContainsKey("--advertise-unchecked"), $"{silo}: a pod IP is the pod's own");
            var podIp = Assert.Single(container.Env ?? [], e => e.Name == "POD_IP");
            Assert.Equal("status.podIP", podIp.ValueFrom?.FieldRef?.FieldPath);
        }
    }

    [KubectlTheory]
    [MemberData(nameof(Kustomizations))]
    public void ShardReplicasNeverShareANode(string kustomization)
    {
        var m = RenderedManifests.Render(kustomization);
        var set = m.Single<V1StatefulSet>(Expert);
        int replicas = int.Parse(RenderedManifests.Flags(RenderedManifests.Container(set.Spec.Template))["--expert-replicas"]);
        if (replicas == 1) return; // one copy of each shard: nothing to keep apart (cpu-tiny, one-node maverick)
        var terms = set.Spec.Template.Spec.Affinity?.PodAntiAffinity?.RequiredDuringSchedulingIgnoredDuringExecution;
        Assert.True(terms is { Count: > 0 }, $"{kustomization}: --expert-replicas {replicas} without required pod anti-affinity");
        var term = Assert.Single(terms, t => t.TopologyKey == "kubernetes.io/hostname");
        foreach (var (key, value) in term.LabelSelector.MatchLabels)
            Assert.Equal(value, set.Spec.Template.Metadata.Labels[key]); // the rule selects the expert pods themselves
    }

    [KubectlTheory]
    [MemberData(nameof(Kustomizations))]
    public void WeightsAreMountedReadOnlyWhereModelPoints(string kustomization)
    {
        var m = RenderedManifests.Render(kustomization);
        var templates = new[]
        {
            m.Single<V1Deployment>(Gateway).Spec.Template, m.Single<V1StatefulSet>(Attention).Spec.Template,
            m.Single<V1StatefulSet>(Expert).Spec.Template,
        };
        foreach (var template in templates)
        {
            var volume = Assert.Single(template.Spec.Volumes, v => v.PersistentVolumeClaim?.ClaimName == "llama4-model");
            Assert.True(volume.PersistentVolumeClaim.ReadOnlyProperty);
            var container = RenderedManifests.Container(template);
            var mount = Assert.Single(container.VolumeMounts, v => v.Name == volume.Name);
            Assert.True(mount.ReadOnlyProperty);
            Assert.StartsWith(mount.MountPath.TrimEnd('/') + "/", RenderedManifests.Flags(container)["--model"], StringComparison.Ordinal);
        }
    }

    [KubectlTheory]
    [MemberData(nameof(Kustomizations))]
    public void CudaSilosRequestAGpuAndTolerateGpuNodes(string kustomization)
    {
        var m = RenderedManifests.Render(kustomization);
        foreach (var silo in new[] { Attention, Expert })
        {
            var template = m.Single<V1StatefulSet>(silo).Spec.Template;
            var container = RenderedManifests.Container(template);
            bool cuda = RenderedManifests.Flags(container)["--device"].StartsWith("cuda", StringComparison.Ordinal);
            bool gpu = container.Resources?.Limits?.ContainsKey("nvidia.com/gpu") == true;
            Assert.Equal(cuda, gpu);
            if (!cuda) continue;
            Assert.Equal("1", container.Resources!.Limits["nvidia.com/gpu"].ToString()); // each pod sees its GPU as cuda:0
            Assert.Equal("cuda:0", RenderedManifests.Flags(container)["--device"]);
            Assert.Contains(template.Spec.Tolerations ?? [], t => t.Key == "nvidia.com/gpu");
            Assert.NotEmpty(template.Spec.NodeSelector ?? new Dictionary<string, string>());
        }
    }
}
