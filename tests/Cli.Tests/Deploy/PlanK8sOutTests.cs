using k8s.Models;
using Llama4Cluster.Cluster.Placement;

namespace Llama4Cluster.Cli.Tests.Deploy;

/// <summary>
/// <c>llama4 plan … --k8s-out DIR</c> as a user runs it: the overlay renders with <c>kubectl kustomize</c>, passes every
/// check of the hand-written overlays (<see cref="ManifestChecks"/>), and runs the plan: exactly one pod per planned silo,
/// started with <c>--plan</c> on the plan the overlay carries and <c>--name</c> its silo, its role, GPUs and memory from the
/// plan, and replicas of a shard kept off one node. deploy/k8s/overlays/behemoth-multihost is what the generator writes.
/// </summary>
public sealed class PlanK8sOutTests
{
    /// <summary>The plan deploy/k8s/README.md gives for behemoth-multihost (its namespace added by --k8s-namespace).</summary>
    private static readonly string[] Behemoth =
    [
        "plan", "--preset", "behemoth", "--hosts", "8", "--gpus-per-host", "8", "--gpu-memory", "80GB", "--dtype", "fp8",
        "--replicas", "2", "--attention-ranks", "2",
    ];

    [KubectlFact]
    public void Behemoth_OnePodPerPlannedSilo_WithItsGpusMemoryAndNodeAntiAffinity()
    {
        using var dir = new TempDirectory();
        var r = CliRunner.Run([.. Behemoth, "--k8s-out", dir.Path]);
        Assert.True(r.ExitCode == 0, r.Stderr + r.Stdout);
        Assert.Contains($"kustomize overlay written to {dir.Path}", r.Stdout);
        var m = RenderedManifests.Render(dir.Path);
        var plan = Assert.IsType<PlacementPlan>(m.Plan);
        Assert.Equal(8, plan.Inventory.Silos.Length);
        CheckEverything(m, plan, dir.Path);
    }

    [KubectlFact]
    public void TinyModel_ThreeOneGpuSilosWithTwoReplicas()
    {
        using var models = new TinyModels();
        using var dir = new TempDirectory();
        var r = CliRunner.Run(["plan", "--model", models.Scout, "--hosts", "3", "--gpus-per-host", "1", "--gpu-memory", "2GB",
            "--replicas", "2", "--k8s-out", dir.Path, "--k8s-namespace", "llama4-tiny-plan"]);
        Assert.True(r.ExitCode == 0, r.Stderr + r.Stdout);
        var m = RenderedManifests.Render(dir.Path);
        var plan = Assert.IsType<PlacementPlan>(m.Plan);
        Assert.Equal(3, plan.Inventory.Silos.Length);
        Assert.All(m.Objects.OfType<IMetadata<V1ObjectMeta>>().Where(o => o is not V1Namespace), o => Assert.Equal("llama4-tiny-plan", o.Metadata.NamespaceProperty));
        CheckEverything(m, plan, dir.Path);
    }

    /// <summary>The committed overlay is byte for byte what the command writes today: it cannot drift from the generator.</summary>
    [Fact]
    public void BehemothMultihostOverlay_IsWhatTheGeneratorWrites()
    {
        using var dir = new TempDirectory();
        var r = CliRunner.Run([.. Behemoth, "--k8s-out", dir.Path, "--k8s-namespace", "llama4-behemoth"]);
        Assert.True(r.ExitCode == 0, r.Stderr + r.Stdout);
        string committed = Path.Combine(RenderedManifests.K8sDirectory, "overlays", "behemoth-multihost");
        var names = Directory.GetFiles(dir.Path).Select(Path.GetFileName).Order(StringComparer.Ordinal).ToList();
        Assert.Equal(names, Directory.GetFiles(committed).Select(Path.GetFileName).Order(StringComparer.Ordinal).ToList());
        foreach (var name in names)
            Assert.True(File.ReadAllText(Path.Combine(dir.Path, name!)) == File.ReadAllText(Path.Combine(committed, name!)),
                $"overlays/behemoth-multihost/{name} differs from what `llama4 {string.Join(' ', Behemoth)} --k8s-out DIR --k8s-namespace llama4-behemoth` writes: regenerate it");
    }

    [Fact]
    public void DoesNotFit_Exit3_WritesNoOverlay()
    {
        using var dir = new TempDirectory();
        string target = Path.Combine(dir.Path, "overlay");
        var r = CliRunner.Run(["plan", "--preset", "maverick", "--hosts", "1", "--gpus-per-host", "8", "--gpu-memory", "80GB",
            "--dtype", "bfloat16", "--k8s-out", target]);
        Assert.Equal(3, r.ExitCode);
        Assert.Contains($"no overlay written to {target}: the model does not fit.", r.Stdout);
        Assert.False(Directory.Exists(target));
    }

    [Fact]
    public void UsageErrors_Exit2()
    {
        using var dir = new TempDirectory();
        string file = Path.Combine(dir.Path, "a-file");
        File.WriteAllText(file, "");
        string[] maverick = ["plan", "--preset", "maverick", "--hosts", "1", "--gpus-per-host", "8", "--gpu-memory", "80GB", "--dtype", "fp8"];
        var intoFile = CliRunner.Run([.. maverick, "--k8s-out", file]);
        Assert.Equal(2, intoFile.ExitCode);
        Assert.Contains("is a file; give a folder", intoFile.Stderr + intoFile.Stdout);
        var namespaceAlone = CliRunner.Run([.. maverick, "--k8s-namespace", "llama4"]);
        Assert.Equal(2, namespaceAlone.ExitCode);
        Assert.Contains("--k8s-namespace needs --k8s-out DIR", namespaceAlone.Stderr + namespaceAlone.Stdout);
        var badNamespace = CliRunner.Run([.. maverick, "--k8s-out", Path.Combine(dir.Path, "o"), "--k8s-namespace", "Llama_4"]);
        Assert.Equal(2, badNamespace.ExitCode);
        Assert.False(Directory.Exists(Path.Combine(dir.Path, "o")));
    }

    private static void CheckEverything(RenderedManifests m, PlacementPlan plan, string directory)
    {
        ManifestChecks.RendersIntoTypedObjects(m);
        ManifestChecks.GatewayProbesHitItsEndpointsOnItsPort(m);
        ManifestChecks.SiloProbesHitTheStatusEndpointOnItsHttpPort(m);
        ManifestChecks.EveryContainerFlagIsOneItsHostAccepts(m);
        ManifestChecks.SilosAndGatewayAgreeOnTheClusterShape(m);
        ManifestChecks.SilosAdvertiseTheirPodIpAndListenOnEveryInterface(m);
        ManifestChecks.WeightsAreMountedReadOnlyWhereModelPoints(m);
        ManifestChecks.CudaSilosRequestTheirGpusAndTolerateGpuNodes(m);
        ManifestChecks.ShardReplicasNeverShareANode(m);
        ManifestChecks.GatewayScalesOnWaitingRequests(m);
        EveryPlannedSiloHasExactlyOnePod(m, plan, directory);
    }

    private static void EveryPlannedSiloHasExactlyOnePod(RenderedManifests m, PlacementPlan plan, string directory)
    {
        // The plan travels as a ConfigMap (configMapGenerator: hashed name) holding plan.json as written.
        var configMap = Assert.Single(m.Objects.OfType<V1ConfigMap>(), c => c.Metadata.Name.StartsWith("llama4-plan-", StringComparison.Ordinal));
        Assert.Equal(File.ReadAllText(Path.Combine(directory, "plan.json")), configMap.Data["plan.json"]);
        Assert.Equal(PlacementPlanJson.Serialize(plan), PlacementPlanJson.Serialize(PlacementPlanJson.Deserialize(configMap.Data["plan.json"])));

        var byName = m.Silos.GroupBy(s => RenderedManifests.Flags(RenderedManifests.Container(s.Spec.Template))["--name"]).ToList();
        Assert.Equal(plan.Inventory.Silos.Select(s => s.Name).Order(StringComparer.Ordinal), byName.Select(g => g.Key).Order(StringComparer.Ordinal));
        var gateway = RenderedManifests.Flags(RenderedManifests.Container(m.Single<V1Deployment>(ManifestChecks.Gateway).Spec.Template));
        Assert.Equal(plan.AttentionRanks.Length.ToString(), gateway["--ranks"]);
        Assert.Equal(plan.ShardsPerLayer.ToString(), gateway["--shards"]);
        foreach (var group in byName)
        {
            var set = Assert.Single(group); // one StatefulSet per silo …
            Assert.Equal(1, set.Spec.Replicas); // … of one pod
            var silo = plan.Inventory.Find(group.Key)!;
            var template = set.Spec.Template;
            var container = RenderedManifests.Container(template);
            var flags = RenderedManifests.Flags(container);
            Assert.Equal(silo.Role.ToText(), flags["--role"]);
            Assert.Equal(plan.Replicas.ToString(), flags["--expert-replicas"]);
            Assert.Equal(plan.AttentionRanks.Length.ToString(), flags["--ranks"]);
            // --plan is the ConfigMap's plan.json, mounted read-only.
            var planVolume = Assert.Single(template.Spec.Volumes, v => v.ConfigMap?.Name == configMap.Metadata.Name);
            var planMount = Assert.Single(container.VolumeMounts, v => v.Name == planVolume.Name);
            Assert.True(planMount.ReadOnlyProperty);
            Assert.Equal(planMount.MountPath.TrimEnd('/') + "/plan.json", flags["--plan"]);
            // Memory: a base for the process plus the largest weight share of one of the silo's devices in the plan's memory table.
            long largest = plan.Memory.Where(d => d.Silo == silo.Name).Max(d => d.ExpertBytes + d.NonExpertBytes);
            long expectedGi = ((8L << 30) + largest + (1L << 30) - 1) >> 30;
            Assert.Equal($"{expectedGi}Gi", container.Resources.Requests["memory"].ToString());
            Assert.Equal(silo.Devices.Length.ToString(), container.Resources.Requests["nvidia.com/gpu"].ToString());
            // The selector picks this silo's pod alone.
            Assert.Single(m.Silos, s => ManifestChecks.Selects(set.Spec.Selector, s.Spec.Template.Metadata.Labels));
        }
    }

    private sealed class TempDirectory : IDisposable
    {
        public TempDirectory()
        {
            Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "l4c-k8s-" + Guid.NewGuid().ToString("N"));
            Directory.CreateDirectory(Path);
        }

        public string Path { get; }

        public void Dispose()
        {
            if (Directory.Exists(Path)) Directory.Delete(Path, recursive: true);
        }
    }
}
