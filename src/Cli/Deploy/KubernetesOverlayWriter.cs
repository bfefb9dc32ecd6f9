using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using k8s;
using Llama4Cluster.Cluster.Placement;

namespace Llama4Cluster.Cli.Deploy;

/// <summary>
/// Writes <see cref="KubernetesOverlay"/>'s objects for a plan as a self-contained kustomization in a folder
/// (<c>llama4 plan … --k8s-out DIR</c>): <c>kustomization.yaml</c>, <c>plan.json</c> (the plan, compact, carried into the
/// pods by a configMapGenerator, so a new plan rolls the silos), <c>redis.yaml</c>, <c>model.yaml</c>, <c>silos.yaml</c>,
/// <c>gateway.yaml</c> and, with a namespace, <c>namespace.yaml</c>. Self-contained (no <c>../../base</c>) so DIR may be
/// anywhere. The output depends on the plan only: the same plan writes the same bytes.
/// </summary>
internal static class KubernetesOverlayWriter
{
    /// <summary>The files this writer owns in DIR; others there are left alone.</summary>
    public static readonly string[] Files = ["kustomization.yaml", KubernetesOverlay.PlanFileName, "namespace.yaml", "redis.yaml", "model.yaml", "silos.yaml", "gateway.yaml"];

    /// <summary>Writes the overlay (see <see cref="KubernetesOverlay.Build"/>).</summary>
    /// <exception cref="UsageException">DIR cannot be written, or the plan's silo names cannot name pods.</exception>
    public static void Write(PlacementPlan plan, string directory, string? ns, string? modelRepository)
    {
        ArgumentNullException.ThrowIfNull(plan);
        var overlay = KubernetesOverlay.Build(plan, modelRepository);
        var files = new List<(string Name, string Text)>();
        var resources = new List<string>();
        if (ns is not null)
        {
            files.Add(("namespace.yaml", Yaml(new k8s.Models.V1Namespace
            {
                ApiVersion = "v1",
                Kind = "Namespace",
                Metadata = new k8s.Models.V1ObjectMeta { Name = ns },
            })));
            resources.Add("namespace.yaml");
        }
        foreach (var (file, items) in overlay.Files)
        {
            files.Add(($"{file}.yaml", string.Join("---\n", items.Select(Yaml))));
            resources.Add($"{file}.yaml");
        }
        files.Add((KubernetesOverlay.PlanFileName, Compact(PlacementPlanJson.Serialize(plan))));
        files.Add(("kustomization.yaml", Kustomization(plan, ns, resources)));
        string full = Path.GetFullPath(directory);
        try
        {
            if (File.Exists(full)) throw new UsageException($"--k8s-out: '{full}' is a file; give a folder (it is created if missing)");
            Directory.CreateDirectory(full);
            foreach (var stale in Files.Except(files.Select(f => f.Name)).Select(f => Path.Combine(full, f)).Where(File.Exists))
                File.Delete(stale);
            foreach (var (name, text) in files)
                File.WriteAllText(Path.Combine(full, name), text.ReplaceLineEndings("\n"), new UTF8Encoding(false));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new UsageException($"--k8s-out: cannot write '{full}': {e.Message}");
        }
    }

    /// <summary>One object as YAML, ending in a newline (the serializer leaves it off), so documents join with <c>---</c>.</summary>
    private static string Yaml(object item) => KubernetesYaml.Serialize(item).TrimEnd('\n') + "\n";

    /// <summary>The plan JSON without indentation: a Behemoth plan is ~320 KB so, under the ConfigMap's 1 MiB.</summary>
    private static string Compact(string json) => JsonNode.Parse(json)!.ToJsonString(new JsonSerializerOptions { WriteIndented = false }) + "\n";

    private static string Kustomization(PlacementPlan plan, string? ns, IEnumerable<string> resources)
    {
        var text = new StringBuilder();
        text.Append("# Written by `llama4 plan … --k8s-out DIR` from the placement plan in plan.json; regenerate it rather than editing it.\n");
        text.Append("# ").Append(plan.Summary).Append('\n');
        text.Append("# One pod per planned silo (StatefulSet llama4-silo-<silo>, started with --plan /plans/plan.json --name <silo>).\n");
        text.Append("# plan.json exceeds the 256 KiB last-applied annotation for large models: apply with `kubectl apply --server-side -k`.\n");
        text.Append("apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n");
        if (ns is not null) text.Append("namespace: ").Append(ns).Append('\n');
        text.Append("labels:\n  - pairs:\n      app.kubernetes.io/part-of: llama4cluster\n    includeSelectors: false\n");
        text.Append("resources:\n");
        foreach (var r in resources) text.Append("  - ").Append(r).Append('\n');
        text.Append("configMapGenerator:\n  - name: ").Append(KubernetesOverlay.PlanConfigMap).Append("\n    files:\n      - ")
            .Append(KubernetesOverlay.PlanFileName).Append('\n');
        text.Append("images:\n");
        text.Append("  # No image is published; build them with SDK container support (deploy/k8s/README.md) and point these at your registry.\n");
        foreach (var image in new[] { KubernetesOverlay.GatewayImage, KubernetesOverlay.SiloImage })
            text.Append("  - name: ").Append(image).Append("\n    newTag: ").Append(KubernetesOverlay.ImageTag).Append('\n');
        return text.ToString();
    }
}
