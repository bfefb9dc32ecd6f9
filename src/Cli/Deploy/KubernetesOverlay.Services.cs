using System.Collections.Immutable;
using System.Globalization;
using System.Text.RegularExpressions;
using k8s.Models;
using Llama4Cluster.Cluster.Placement;

namespace Llama4Cluster.Cli.Deploy;

/// <summary>The objects of an overlay besides the silos (<see cref="KubernetesOverlay"/>): Redis, the model volume and its
/// download Job, the gateway and its autoscaler.</summary>
internal static partial class KubernetesOverlay
{
    private static IEnumerable<object> Redis()
    {
        var labels = new Dictionary<string, string> { [NameLabel] = "redis" };
        yield return new V1Deployment
        {
            ApiVersion = "apps/v1",
            Kind = "Deployment",
            Metadata = new V1ObjectMeta { Name = "redis" },
            Spec = new V1DeploymentSpec
            {
                Replicas = 1,
                Selector = new V1LabelSelector { MatchLabels = labels },
                Template = new V1PodTemplateSpec
                {
                    Metadata = new V1ObjectMeta { Labels = labels },
                    Spec = new V1PodSpec
                    {
                        Containers =
                        [
                            new V1Container
                            {
                                Name = "redis",
                                Image = "redis:7-alpine",
                                Args = ["redis-server", "--save", "", "--appendonly", "no"],
                                Ports = [new V1ContainerPort { Name = "redis", ContainerPort = 6379 }],
                                ReadinessProbe = new V1Probe { TcpSocket = new V1TCPSocketAction { Port = "redis" }, PeriodSeconds = 5 },
                                LivenessProbe = new V1Probe { TcpSocket = new V1TCPSocketAction { Port = "redis" }, PeriodSeconds = 10 },
                                Resources = new V1ResourceRequirements { Requests = new Dictionary<string, ResourceQuantity> { ["cpu"] = new("100m"), ["memory"] = new("128Mi") } },
                            },
                        ],
                    },
                },
            },
        };
        yield return new V1Service
        {
            ApiVersion = "v1",
            Kind = "Service",
            Metadata = new V1ObjectMeta { Name = "redis" },
            Spec = new V1ServiceSpec
            {
                Selector = labels,
                Ports = [new V1ServicePort { Name = "redis", Port = 6379, TargetPort = "redis" }],
            },
        };
    }

    /// <summary>The model volume (the checkpoint's weights plus 10%) and the Job that fills it.</summary>
    private static IEnumerable<object> Model(PlacementPlan plan, string? repository)
    {
        yield return new V1PersistentVolumeClaim
        {
            ApiVersion = "v1",
            Kind = "PersistentVolumeClaim",
            Metadata = new V1ObjectMeta { Name = "llama4-model" },
            Spec = new V1PersistentVolumeClaimSpec
            {
                AccessModes = ["ReadWriteMany"],
                Resources = new V1VolumeResourceRequirements { Requests = new Dictionary<string, ResourceQuantity> { ["storage"] = new(Gi((plan.Footprint.RoutedExpertBytes + plan.Footprint.NonExpertBytes) / 10 * 11)) } },
            },
        };
        yield return new V1Job
        {
            ApiVersion = "batch/v1",
            Kind = "Job",
            Metadata = new V1ObjectMeta { Name = "llama4-model-download" },
            Spec = new V1JobSpec
            {
                BackoffLimit = 2,
                Template = new V1PodTemplateSpec
                {
                    Metadata = new V1ObjectMeta { Labels = new Dictionary<string, string> { [NameLabel] = "llama4-model-download" } },
                    Spec = new V1PodSpec
                    {
                        RestartPolicy = "OnFailure",
                        Containers =
                        [
                            new V1Container
                            {
                                Name = "download",
                                Image = "python:3.12-slim",
                                Env =
                                [
                                    // Empty when the plan's model has no published checkpoint (Behemoth): set it before applying.
                                    new V1EnvVar { Name = "MODEL_REPO", Value = repository ?? "" },
                                    new V1EnvVar
                                    {
                                        Name = "HF_TOKEN",
                                        ValueFrom = new V1EnvVarSource { SecretKeyRef = new V1SecretKeySelector { Name = "hf-token", Key = "token", Optional = true } },
                                    },
                                ],
                                Command = ["sh", "-c"],
                                Args =
                                [
                                    "test -n \"$MODEL_REPO\" || { echo 'set MODEL_REPO to the checkpoint repository (kustomize patch on this Job)' >&2; exit 1; } && " +
                                    "pip install --no-cache-dir \"huggingface_hub>=0.24\" && " +
                                    "huggingface-cli download \"$MODEL_REPO\" --local-dir /models/checkpoint --exclude \"original/*\"",
                                ],
                                VolumeMounts = [new V1VolumeMount { Name = "model", MountPath = "/models" }],
                            },
                        ],
                        Volumes = [new V1Volume { Name = "model", PersistentVolumeClaim = new V1PersistentVolumeClaimVolumeSource { ClaimName = "llama4-model" } }],
                    },
                },
            },
        };
    }

    private static IEnumerable<object> Gateway(PlacementPlan plan)
    {
        var labels = new Dictionary<string, string> { [NameLabel] = "llama4-gateway", [ComponentLabel] = "gateway" };
        var selector = new Dictionary<string, string> { [NameLabel] = "llama4-gateway" };
        yield return new V1Deployment
        {
            ApiVersion = "apps/v1",
            Kind = "Deployment",
            Metadata = new V1ObjectMeta { Name = "llama4-gateway" },
            Spec = new V1DeploymentSpec
            {
                Replicas = 1,
                Selector = new V1LabelSelector { MatchLabels = selector },
                Template = new V1PodTemplateSpec
                {
                    Metadata = new V1ObjectMeta { Labels = labels, Annotations = Scrape(GatewayHttpPort) },
                    Spec = new V1PodSpec
                    {
                        Containers =
                        [
                            new V1Container
                            {
                                Name = "gateway",
                                Image = GatewayImage,
                                Args =
                                [
                                    "--model", ModelDirectory, "--host", "0.0.0.0", "--port", Inv(GatewayHttpPort), "--redis", "redis:6379",
                                    "--cluster-id", "llama4", "--ranks", Inv(plan.AttentionRanks.Length), "--shards", Inv(plan.ShardsPerLayer),
                                ],
                                Env =
                                [
                                    new V1EnvVar
                                    {
                                        Name = "LLAMA4_API_KEY",
                                        ValueFrom = new V1EnvVarSource { SecretKeyRef = new V1SecretKeySelector { Name = "llama4-api-key", Key = "key", Optional = true } },
                                    },
                                ],
                                Ports = [new V1ContainerPort { Name = "http", ContainerPort = GatewayHttpPort }],
                                LivenessProbe = HttpProbe("/health", periodSeconds: 10, failureThreshold: 3),
                                ReadinessProbe = HttpProbe("/ready", periodSeconds: 5, failureThreshold: 3),
                                Resources = new V1ResourceRequirements { Requests = new Dictionary<string, ResourceQuantity> { ["cpu"] = new("4"), ["memory"] = new("4Gi") } },
                                VolumeMounts = [new V1VolumeMount { Name = "model", MountPath = "/models", ReadOnlyProperty = true }],
                            },
                        ],
                        Volumes = [new V1Volume { Name = "model", PersistentVolumeClaim = new V1PersistentVolumeClaimVolumeSource { ClaimName = "llama4-model", ReadOnlyProperty = true } }],
                    },
                },
            },
        };
        yield return new V1Service
        {
            ApiVersion = "v1",
            Kind = "Service",
            Metadata = new V1ObjectMeta { Name = "llama4-gateway" },
            Spec = new V1ServiceSpec { Selector = selector, Ports = [new V1ServicePort { Name = "http", Port = GatewayHttpPort, TargetPort = "http" }] },
        };
        yield return new V1PodDisruptionBudget
        {
            ApiVersion = "policy/v1",
            Kind = "PodDisruptionBudget",
            Metadata = new V1ObjectMeta { Name = "llama4-gateway" },
            Spec = new V1PodDisruptionBudgetSpec { MaxUnavailable = 1, Selector = new V1LabelSelector { MatchLabels = selector } },
        };
        yield return GatewayAutoscaler();
    }

    /// <summary>The gateway's autoscaler: the same as deploy/k8s/base/gateway-autoscaler.yaml.</summary>
    private static V2HorizontalPodAutoscaler GatewayAutoscaler() => new()
    {
        ApiVersion = "autoscaling/v2",
        Kind = "HorizontalPodAutoscaler",
        Metadata = new V1ObjectMeta { Name = "llama4-gateway" },
        Spec = new V2HorizontalPodAutoscalerSpec
        {
            ScaleTargetRef = new V2CrossVersionObjectReference { ApiVersion = "apps/v1", Kind = "Deployment", Name = "llama4-gateway" },
            MinReplicas = 1,
            MaxReplicas = 4,
            Metrics =
            [
                new V2MetricSpec
                {
                    Type = "Pods",
                    Pods = new V2PodsMetricSource
                    {
                        Metric = new V2MetricIdentifier { Name = WaitingRequestsMetric },
                        Target = new V2MetricTarget { Type = "AverageValue", AverageValue = new ResourceQuantity("4") },
                    },
                },
            ],
            Behavior = new V2HorizontalPodAutoscalerBehavior
            {
                ScaleUp = new V2HPAScalingRules { StabilizationWindowSeconds = 0, Policies = [new V2HPAScalingPolicy { Type = "Pods", Value = 1, PeriodSeconds = 60 }] },
                ScaleDown = new V2HPAScalingRules { StabilizationWindowSeconds = 300, Policies = [new V2HPAScalingPolicy { Type = "Pods", Value = 1, PeriodSeconds = 120 }] },
            },
        },
    };
}
