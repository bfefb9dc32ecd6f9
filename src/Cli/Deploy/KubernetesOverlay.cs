using System.Collections.Immutable;
using System.Globalization;
using System.Text.RegularExpressions;
using k8s.Models;
using Llama4Cluster.Cluster.Placement;

namespace Llama4Cluster.Cli.Deploy;

/// <summary>
/// The Kubernetes objects that run one placement plan (<c>llama4 plan … --k8s-out DIR</c>, written by
/// <see cref="KubernetesOverlayWriter"/>): Redis, the model volume and its download Job, the gateway (Deployment, Service,
/// PodDisruptionBudget, an autoscaler on waiting requests), and ONE pod per planned silo: a StatefulSet of one replica
/// named <c>llama4-silo-{silo}</c>, started with <c>--plan /plans/plan.json --name {silo}</c> and the silo's role from the
/// plan, requesting as many <c>nvidia.com/gpu</c> as the plan gives the silo devices. Pods of silos that hold replicas of
/// one expert shard, or stages of different attention ranks, carry a required anti-affinity on each other's
/// <c>kubernetes.io/hostname</c>, so one node lost costs what the plan's host-loss analysis says one silo lost costs.
/// A StatefulSet per silo (not one with N ordinals) because each pod's arguments differ (its name, its role and so its
/// Orleans gateway port) and a pod's identity must stay the plan's silo across restarts.
/// </summary>
internal static partial class KubernetesOverlay
{
    public const string SiloImage = "llama4cluster-silos";
    public const string GatewayImage = "llama4cluster-gateway";
    public const string ImageTag = "dev";

    /// <summary>Where each pod mounts the model volume (read-only) and the plan ConfigMap.</summary>
    public const string ModelDirectory = "/models/checkpoint";
    public const string PlanDirectory = "/plans";
    public const string PlanFileName = "plan.json";
    public const string PlanConfigMap = "llama4-plan";

    public const int SiloPort = 11111;
    public const int OrleansGatewayPort = 30000;
    public const int DataPlanePort = 11112;
    /// <summary>The silo host's <c>--http-port</c>: <c>/health</c>, <c>/ready</c>, <c>/metrics</c>.</summary>
    public const int SiloHttpPort = 9100;
    public const int GatewayHttpPort = 8000;

    /// <summary>The label that names a pod's planned silo; anti-affinity terms select on it.</summary>
    public const string SiloLabel = "llama4cluster.io/silo";
    public const string RoleLabel = "llama4cluster.io/role";
    private const string NameLabel = "app.kubernetes.io/name";
    private const string ComponentLabel = "app.kubernetes.io/component";
    private const string SiloApp = "llama4-silo";
    private const string Hostname = "kubernetes.io/hostname";

    /// <summary>The gauge the gateway's autoscaler follows (GatewayMetrics, vLLM's name), through a Prometheus adapter.</summary>
    public const string WaitingRequestsMetric = "vllm:num_requests_waiting";

    /// <summary>Host memory a silo process needs besides weights staged on their way to a GPU (runtime, libtorch, CUDA context).</summary>
    private const long SiloBaseMemoryBytes = 8L << 30;

    /// <summary>The objects of one overlay, by file name (without .yaml), in the order they are written.</summary>
    public sealed record Objects(IReadOnlyList<(string File, IReadOnlyList<object> Items)> Files);

    /// <summary>Builds the overlay's objects.</summary>
    /// <exception cref="UsageException">A silo name that cannot be a Kubernetes name or label value.</exception>
    public static Objects Build(PlacementPlan plan, string? modelRepository)
    {
        ArgumentNullException.ThrowIfNull(plan);
        var silos = plan.Inventory.Silos;
        foreach (var silo in silos)
            if (!SiloName().IsMatch(silo.Name) || silo.Name.Length > 63 - "llama4-silo-".Length)
                throw new UsageException($"--k8s-out: silo name '{silo.Name}' cannot name a pod: use lower-case letters, digits and '-', at most {63 - "llama4-silo-".Length} characters, starting and ending with a letter or digit");
        var conflicts = NodeConflicts(plan);
        var siloObjects = new List<object> { SiloService(), SiloDisruptionBudget() };
        siloObjects.AddRange(silos.Select(s => SiloStatefulSet(plan, s, conflicts[s.Name])));
        return new Objects(
        [
            ("redis", [.. Redis()]),
            ("model", [.. Model(plan, modelRepository)]),
            ("silos", siloObjects),
            ("gateway", [.. Gateway(plan)]),
        ]);
    }

    /// <summary>
    /// For each silo, the silos its pod must never share a node with: those holding another replica of one of its expert
    /// shards (the plan puts replicas on distinct silos; a node must not undo that) and those holding stages of another
    /// attention rank (one node lost costs at most one rank, as one silo lost does).
    /// </summary>
    public static IReadOnlyDictionary<string, ImmutableSortedSet<string>> NodeConflicts(PlacementPlan plan)
    {
        ArgumentNullException.ThrowIfNull(plan);
        var conflicts = plan.Inventory.Silos.ToDictionary(s => s.Name, _ => new SortedSet<string>(StringComparer.Ordinal), StringComparer.Ordinal);
        void Apart(IEnumerable<string> a, IEnumerable<string> b)
        {
            foreach (var x in a)
                foreach (var y in b)
                    if (x != y && conflicts.ContainsKey(x) && conflicts.ContainsKey(y))
                    {
                        conflicts[x].Add(y);
                        conflicts[y].Add(x);
                    }
        }
        foreach (var shard in plan.ExpertShards.GroupBy(s => (s.Layer, s.Shard)))
        {
            var holders = shard.Select(s => s.Silo).Distinct().ToList();
            Apart(holders, holders);
        }
        var ranks = plan.AttentionRanks.Select(r => RankSilos(r).ToList()).ToList();
        for (int i = 0; i < ranks.Count; i++)
            for (int j = i + 1; j < ranks.Count; j++)
                Apart(ranks[i], ranks[j]);
        return conflicts.ToDictionary(kv => kv.Key, kv => kv.Value.ToImmutableSortedSet(StringComparer.Ordinal), StringComparer.Ordinal);
    }

    private static IEnumerable<string> RankSilos(AttentionRankPlacement rank) =>
        rank.Stages.IsDefaultOrEmpty ? [rank.Silo] : rank.Stages.Select(s => s.Silo).Append(rank.Silo).Distinct();

    /// <summary>
    /// Host memory a silo's pod requests: a base for the process (<see cref="SiloBaseMemoryBytes"/>) plus the largest
    /// weight share (experts + non-expert weights) of one of its devices in the plan's memory table, which the loader
    /// stages in host memory on its way to the GPU.
    /// </summary>
    public static long SiloMemoryBytes(PlacementPlan plan, string silo)
    {
        ArgumentNullException.ThrowIfNull(plan);
        long largest = plan.Memory.Where(m => m.Silo == silo).Select(m => m.ExpertBytes + m.NonExpertBytes).DefaultIfEmpty(0).Max();
        return SiloBaseMemoryBytes + largest;
    }

    /// <summary>Bytes as a whole number of GiB, rounded up (<c>120Gi</c>).</summary>
    public static string Gi(long bytes) => string.Create(CultureInfo.InvariantCulture, $"{(bytes + (1L << 30) - 1) >> 30}Gi");

    private static V1StatefulSet SiloStatefulSet(PlacementPlan plan, SiloInventory silo, ImmutableSortedSet<string> apart)
    {
        string role = silo.Role.ToText();
        bool attention = silo.Role.HoldsAttention();
        bool cuda = silo.Devices.Any(d => d.Device.StartsWith("cuda", StringComparison.Ordinal));
        var labels = new Dictionary<string, string>
        {
            [NameLabel] = SiloApp,
            [ComponentLabel] = "silo",
            [SiloLabel] = silo.Name,
            [RoleLabel] = role,
        };
        var container = SiloContainer(plan, silo, role, attention, cuda);
        var spec = new V1PodSpec
        {
            TerminationGracePeriodSeconds = 60,
            Containers = [container],
            Volumes =
            [
                new V1Volume { Name = "model", PersistentVolumeClaim = new V1PersistentVolumeClaimVolumeSource { ClaimName = "llama4-model", ReadOnlyProperty = true } },
                new V1Volume { Name = "plan", ConfigMap = new V1ConfigMapVolumeSource { Name = PlanConfigMap } },
            ],
        };
        if (cuda)
        {
            // Set by NVIDIA GPU feature discovery (GPU operator); patch in nvidia.com/gpu.product to pin a GPU model.
            spec.NodeSelector = new Dictionary<string, string> { ["nvidia.com/gpu.present"] = "true" };
            spec.Tolerations = [new V1Toleration { Key = "nvidia.com/gpu", OperatorProperty = "Exists", Effect = "NoSchedule" }];
        }
        if (apart.Count > 0)
            spec.Affinity = new V1Affinity
            {
                PodAntiAffinity = new V1PodAntiAffinity
                {
                    RequiredDuringSchedulingIgnoredDuringExecution =
                    [
                        new V1PodAffinityTerm
                        {
                            TopologyKey = Hostname,
                            LabelSelector = new V1LabelSelector
                            {
                                MatchExpressions = [new V1LabelSelectorRequirement { Key = SiloLabel, OperatorProperty = "In", Values = [.. apart] }],
                            },
                        },
                    ],
                },
            };
        return new V1StatefulSet
        {
            ApiVersion = "apps/v1",
            Kind = "StatefulSet",
            Metadata = new V1ObjectMeta { Name = $"{SiloApp}-{silo.Name}", Labels = new Dictionary<string, string>(labels) },
            Spec = new V1StatefulSetSpec
            {
                ServiceName = SiloApp,
                Replicas = 1,
                PodManagementPolicy = "Parallel",
                Selector = new V1LabelSelector { MatchLabels = new Dictionary<string, string> { [NameLabel] = SiloApp, [SiloLabel] = silo.Name } },
                Template = new V1PodTemplateSpec
                {
                    Metadata = new V1ObjectMeta { Labels = labels, Annotations = Scrape(SiloHttpPort) },
                    Spec = spec,
                },
            },
        };
    }

    /// <summary>A planned silo's container: its flags (the plan, its name and role), ports, GPU and memory requests, probes
    /// and the read-only model and plan mounts.</summary>
    private static V1Container SiloContainer(PlacementPlan plan, SiloInventory silo, string role, bool attention, bool cuda)
    {
        var args = new List<string>
        {
            "--model", ModelDirectory, "--role", role, "--redis", "redis:6379", "--cluster-id", "llama4",
            "--ranks", Inv(plan.AttentionRanks.Length), "--shards", Inv(plan.ShardsPerLayer), "--expert-replicas", Inv(plan.Replicas),
            "--plan", $"{PlanDirectory}/{PlanFileName}", "--name", silo.Name,
            "--device", cuda ? "plan" : "cpu", "--dtype", cuda ? "bfloat16" : "float32",
            "--port", Inv(SiloPort),
        };
        if (attention) args.AddRange(["--gateway-port", Inv(OrleansGatewayPort)]);
        args.AddRange(["--data-plane-port", Inv(DataPlanePort), "--http-port", Inv(SiloHttpPort),
            "--advertise", "$(POD_IP)", "--listen", "0.0.0.0"]);
        var ports = new List<V1ContainerPort> { new() { Name = "silo", ContainerPort = SiloPort } };
        if (attention) ports.Add(new V1ContainerPort { Name = "orleans-gateway", ContainerPort = OrleansGatewayPort });
        ports.Add(new V1ContainerPort { Name = "data-plane", ContainerPort = DataPlanePort });
        ports.Add(new V1ContainerPort { Name = "http", ContainerPort = SiloHttpPort });
        var requests = new Dictionary<string, ResourceQuantity>
        {
            ["cpu"] = new(Inv(Math.Max(2, 2 * silo.Devices.Length))),
            ["memory"] = new(Gi(SiloMemoryBytes(plan, silo.Name))),
        };
        var limits = new Dictionary<string, ResourceQuantity>();
        if (cuda)
        {
            string gpus = Inv(silo.Devices.Length);
            requests["nvidia.com/gpu"] = new(gpus);
            limits["nvidia.com/gpu"] = new(gpus);
        }
        return new V1Container
        {
            Name = "silo",
            Image = SiloImage,
            Args = args,
            Env = [PodIp()],
            Ports = ports,
            Resources = new V1ResourceRequirements { Requests = requests, Limits = limits.Count == 0 ? null : limits },
            // /ready is 200 once the silo host has started (joined the cluster); 10 minutes for CUDA and Orleans to come up.
            StartupProbe = HttpProbe("/ready", periodSeconds: 10, failureThreshold: 60),
            LivenessProbe = HttpProbe("/health", periodSeconds: 20, failureThreshold: 3),
            ReadinessProbe = HttpProbe("/ready", periodSeconds: 10, failureThreshold: 3),
            VolumeMounts =
            [
                new V1VolumeMount { Name = "model", MountPath = "/models", ReadOnlyProperty = true },
                new V1VolumeMount { Name = "plan", MountPath = PlanDirectory, ReadOnlyProperty = true },
            ],
        };
    }

    private static V1Service SiloService() => new()
    {
        ApiVersion = "v1",
        Kind = "Service",
        Metadata = new V1ObjectMeta { Name = SiloApp },
        Spec = new V1ServiceSpec
        {
            ClusterIP = "None",
            Selector = new Dictionary<string, string> { [NameLabel] = SiloApp },
            Ports =
            [
                new V1ServicePort { Name = "silo", Port = SiloPort },
                new V1ServicePort { Name = "orleans-gateway", Port = OrleansGatewayPort },
                new V1ServicePort { Name = "data-plane", Port = DataPlanePort },
                new V1ServicePort { Name = "http", Port = SiloHttpPort },
            ],
        },
    };

    /// <summary>One budget over every silo pod: a drain takes one silo at a time (the plan's host-loss analysis says what
    /// one silo lost costs).</summary>
    private static V1PodDisruptionBudget SiloDisruptionBudget() => new()
    {
        ApiVersion = "policy/v1",
        Kind = "PodDisruptionBudget",
        Metadata = new V1ObjectMeta { Name = SiloApp },
        Spec = new V1PodDisruptionBudgetSpec
        {
            MaxUnavailable = 1,
            Selector = new V1LabelSelector { MatchLabels = new Dictionary<string, string> { [NameLabel] = SiloApp } },
        },
    };

    private static V1Probe HttpProbe(string path, int periodSeconds, int failureThreshold) => new()
    {
        HttpGet = new V1HTTPGetAction { Path = path, Port = "http" },
        PeriodSeconds = periodSeconds,
        FailureThreshold = failureThreshold,
    };

    private static V1EnvVar PodIp() => new()
    {
        Name = "POD_IP",
        ValueFrom = new V1EnvVarSource { FieldRef = new V1ObjectFieldSelector { FieldPath = "status.podIP" } },
    };

    /// <summary>The conventional Prometheus scrape annotations (/metrics on the pod's HTTP port).</summary>
    private static Dictionary<string, string> Scrape(int port) => new()
    {
        ["prometheus.io/scrape"] = "true",
        ["prometheus.io/port"] = Inv(port),
        ["prometheus.io/path"] = "/metrics",
    };

    private static string Inv(int value) => value.ToString(CultureInfo.InvariantCulture);

    [GeneratedRegex("^[a-z0-9]([a-z0-9-]*[a-z0-9])?$")]
    private static partial Regex SiloName();
}
