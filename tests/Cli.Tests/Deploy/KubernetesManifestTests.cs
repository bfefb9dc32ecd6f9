namespace Llama4Cluster.Cli.Tests.Deploy;

/// <summary>
/// deploy/k8s, validated offline: every kustomization renders, every object loads into the typed Kubernetes models, the
/// gateway's and the silos' probes hit their real endpoints on their real ports, every container flag is one its host
/// accepts, the silos and the gateway agree on the cluster's shape, the silos advertise their pod IPs, a shard's replicas
/// can never share a node, and the gateway scales on a metric it exports (<see cref="ManifestChecks"/>).
/// </summary>
public sealed class KubernetesManifestTests
{
    public static TheoryData<string> Kustomizations() => new(RenderedManifests.Kustomizations());

    [Fact]
    public void TheOverlaysTheReadmeNamesExist()
    {
        var all = RenderedManifests.Kustomizations().ToList();
        Assert.Contains("overlays/cpu-tiny", all);
        Assert.Contains("overlays/maverick-fp8-8xh100", all);
        Assert.Contains("overlays/behemoth-multihost", all);
        string readme = File.ReadAllText(Path.Combine(RenderedManifests.K8sDirectory, "README.md"));
        foreach (var overlay in all.Where(k => k.StartsWith("overlays/", StringComparison.Ordinal)))
            Assert.Contains(overlay, readme, StringComparison.Ordinal);
    }

    [KubectlTheory]
    [MemberData(nameof(Kustomizations))]
    public void RendersIntoTypedObjects(string kustomization) => ManifestChecks.RendersIntoTypedObjects(RenderedManifests.Render(kustomization));

    [KubectlTheory]
    [MemberData(nameof(Kustomizations))]
    public void GatewayProbesHitItsEndpointsOnItsPort(string kustomization) =>
        ManifestChecks.GatewayProbesHitItsEndpointsOnItsPort(RenderedManifests.Render(kustomization));

    [KubectlTheory]
    [MemberData(nameof(Kustomizations))]
    public void SiloProbesHitTheStatusEndpointOnItsHttpPort(string kustomization) =>
        ManifestChecks.SiloProbesHitTheStatusEndpointOnItsHttpPort(RenderedManifests.Render(kustomization));

    [KubectlTheory]
    [MemberData(nameof(Kustomizations))]
    public void EveryContainerFlagIsOneItsHostAccepts(string kustomization) =>
        ManifestChecks.EveryContainerFlagIsOneItsHostAccepts(RenderedManifests.Render(kustomization));

    [KubectlTheory]
    [MemberData(nameof(Kustomizations))]
    public void SilosAndGatewayAgreeOnTheClusterShape(string kustomization) =>
        ManifestChecks.SilosAndGatewayAgreeOnTheClusterShape(RenderedManifests.Render(kustomization));

    /// <summary>The hand-written overlays: one pod per attention rank, and at least as many expert pods as replicas of a shard.</summary>
    [KubectlTheory]
    [MemberData(nameof(Kustomizations))]
    public void HandWrittenOverlaysRunOnePodPerRankAndEnoughExpertPods(string kustomization)
    {
        var m = RenderedManifests.Render(kustomization);
        if (m.Plan is not null)
        {
            // Planned overlays have one pod per planned silo instead (PlanK8sOutTests checks them against the plan).
            Assert.All(m.Silos, s => Assert.Equal(1, s.Spec.Replicas));
            return;
        }
        var attention = m.Single<k8s.Models.V1StatefulSet>("llama4-attention");
        var expert = m.Single<k8s.Models.V1StatefulSet>("llama4-expert");
        var flags = RenderedManifests.Flags(RenderedManifests.Container(attention.Spec.Template));
        Assert.Equal("attention", flags["--role"]);
        Assert.Equal("expert", RenderedManifests.Flags(RenderedManifests.Container(expert.Spec.Template))["--role"]);
        Assert.Equal(int.Parse(flags["--ranks"]), attention.Spec.Replicas);
        Assert.True(expert.Spec.Replicas >= int.Parse(flags["--expert-replicas"]));
    }

    /// <summary>Loopback, the silo host's default, is out of every other pod's reach: each silo advertises its pod IP (from the
    /// downward API, which <c>$(POD_IP)</c> in its args expands to) and binds every interface.</summary>
    [KubectlTheory]
    [MemberData(nameof(Kustomizations))]
    public void SilosAdvertiseTheirPodIpAndListenOnEveryInterface(string kustomization) =>
        ManifestChecks.SilosAdvertiseTheirPodIpAndListenOnEveryInterface(RenderedManifests.Render(kustomization));

    [KubectlTheory]
    [MemberData(nameof(Kustomizations))]
    public void ShardReplicasNeverShareANode(string kustomization) =>
        ManifestChecks.ShardReplicasNeverShareANode(RenderedManifests.Render(kustomization));

    [KubectlTheory]
    [MemberData(nameof(Kustomizations))]
    public void WeightsAreMountedReadOnlyWhereModelPoints(string kustomization) =>
        ManifestChecks.WeightsAreMountedReadOnlyWhereModelPoints(RenderedManifests.Render(kustomization));

    [KubectlTheory]
    [MemberData(nameof(Kustomizations))]
    public void CudaSilosRequestTheirGpusAndTolerateGpuNodes(string kustomization) =>
        ManifestChecks.CudaSilosRequestTheirGpusAndTolerateGpuNodes(RenderedManifests.Render(kustomization));

    [KubectlTheory]
    [MemberData(nameof(Kustomizations))]
    public void GatewayScalesOnWaitingRequests(string kustomization) =>
        ManifestChecks.GatewayScalesOnWaitingRequests(RenderedManifests.Render(kustomization));

    /// <summary>Every image of ours that a manifest runs is one a project publishes with SDK container support
    /// (<c>ContainerRepository</c> and <c>ContainerImageTag</c> in its csproj).</summary>
    [KubectlTheory]
    [MemberData(nameof(Kustomizations))]
    public void ImagesAreTheOnesTheProjectsPublish(string kustomization)
    {
        var published = new[] { "src/Gateway/Gateway.csproj", "src/Silos/Silos.csproj", "src/Cli/Cli.csproj" }
            .Select(p => System.Xml.Linq.XDocument.Parse(RenderedManifests.Source(p)))
            .Select(d => d.Descendants("ContainerRepository").Single().Value + ":" + d.Descendants("ContainerImageTag").Single().Value)
            .ToHashSet(StringComparer.Ordinal);
        Assert.Equal(3, published.Count);
        var images = RenderedManifests.Render(kustomization).Objects
            .Select(o => o switch
            {
                k8s.Models.V1Deployment d => d.Spec.Template.Spec,
                k8s.Models.V1StatefulSet s => s.Spec.Template.Spec,
                k8s.Models.V1Job j => j.Spec.Template.Spec,
                _ => null,
            })
            .Where(s => s is not null).SelectMany(s => s!.Containers).Select(c => c.Image)
            .Where(i => i.StartsWith("llama4cluster-", StringComparison.Ordinal)).ToList();
        Assert.Contains(images, i => i.StartsWith("llama4cluster-silos:", StringComparison.Ordinal));
        Assert.All(images, i => Assert.Contains(i, published));
    }
}
