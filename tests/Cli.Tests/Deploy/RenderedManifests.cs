using System.Text.RegularExpressions;
using k8s;
using k8s.Models;
using Llama4Cluster.Cluster.Placement;
using Llama4Cluster.Cluster.Processes;

namespace Llama4Cluster.Cli.Tests.Deploy;

/// <summary>
/// One kustomization of deploy/k8s rendered by <c>kubectl kustomize</c> and loaded, strictly (an unknown field fails), into
/// KubernetesClient's typed models; plus the hosts' real flag tables, read from their sources.
/// </summary>
internal sealed partial class RenderedManifests
{
    public static readonly string RepositoryRoot = FindRoot();
    public static string K8sDirectory => Path.Combine(RepositoryRoot, "deploy", "k8s");

    private RenderedManifests(string name, IReadOnlyList<object> objects, PlacementPlan? plan)
    {
        Name = name;
        Objects = objects;
        Plan = plan;
    }

    /// <summary>The kustomization, as given to <see cref="Render"/>.</summary>
    public string Name { get; }

    public IReadOnlyList<object> Objects { get; }

    /// <summary>The placement plan of an overlay written by <c>llama4 plan … --k8s-out</c> (its plan.json); null otherwise.</summary>
    public PlacementPlan? Plan { get; }

    /// <summary>The silo StatefulSets (pod template labelled <c>app.kubernetes.io/component: silo</c>).</summary>
    public IReadOnlyList<V1StatefulSet> Silos => Objects.OfType<V1StatefulSet>()
        .Where(s => s.Spec.Template.Metadata.Labels.TryGetValue("app.kubernetes.io/component", out var c) && c == "silo").ToList();

    /// <summary>base and every folder under overlays/, as paths relative to deploy/k8s.</summary>
    public static IEnumerable<string> Kustomizations() =>
        new[] { "base" }.Concat(Directory.GetDirectories(Path.Combine(K8sDirectory, "overlays"))
            .Select(d => "overlays/" + Path.GetFileName(d)).Order(StringComparer.Ordinal));

    /// <summary>Renders a kustomization: a path relative to deploy/k8s, or an absolute folder.</summary>
    public static RenderedManifests Render(string kustomization)
    {
        string directory = Path.Combine(K8sDirectory, kustomization);
        var result = ChildProcess.RunAsync("kubectl", ["kustomize", directory], TimeSpan.FromMinutes(1))
            .GetAwaiter().GetResult();
        Assert.True(result.ExitCode == 0, $"kubectl kustomize {kustomization} failed: {result.Stderr}");
        string planFile = Path.Combine(directory, "plan.json");
        var plan = File.Exists(planFile) ? PlacementPlanJson.Deserialize(File.ReadAllText(planFile)) : null;
        return new RenderedManifests(kustomization, KubernetesYaml.LoadAllFromString(result.Stdout, strict: true), plan);
    }

    public T Single<T>(string name) where T : IMetadata<V1ObjectMeta> =>
        Assert.Single(Objects.OfType<T>(), o => o.Metadata.Name == name);

    /// <summary>The one container of a pod template.</summary>
    public static V1Container Container(V1PodTemplateSpec template) => Assert.Single(template.Spec.Containers);

    /// <summary>A container's <c>--flag value</c> pairs; every flag of both hosts takes a value, and a flag given twice is a
    /// usage error there, so it is one here.</summary>
    public static IReadOnlyDictionary<string, string> Flags(V1Container container)
    {
        var args = container.Args ?? [];
        Assert.True(args.Count % 2 == 0, $"{container.Name}: args are not --flag value pairs: {string.Join(' ', args)}");
        var flags = new Dictionary<string, string>(StringComparer.Ordinal);
        for (int i = 0; i < args.Count; i += 2)
        {
            Assert.StartsWith("--", args[i], StringComparison.Ordinal);
            Assert.False(args[i + 1].StartsWith("--", StringComparison.Ordinal), $"{args[i]} has no value");
            Assert.True(flags.TryAdd(args[i], args[i + 1]), $"{container.Name}: {args[i]} given twice");
        }
        return flags;
    }

    /// <summary>The container port named <paramref name="name"/>.</summary>
    public static int Port(V1Container container, string name) =>
        Assert.Single(container.Ports, p => p.Name == name).ContainerPort;

    /// <summary>
    /// The flags a host accepts, read from its flag tables in its source files: entries <c>new("flag", "VALUE", "Section:Key", …)</c>,
    /// <c>new("flag", "VALUE", SomeKey, …)</c> or <c>Flag("flag", "VALUE", nameof(…), …)</c>.
    /// </summary>
    public static IReadOnlySet<string> HostFlags(params string[] sourceFiles)
    {
        var flags = sourceFiles.Select(f => File.ReadAllText(Path.Combine(RepositoryRoot, f)))
            .SelectMany(source => FlagEntry().Matches(source).Select(m => "--" + m.Groups[1].Value)).ToHashSet(StringComparer.Ordinal);
        Assert.Contains("--model", flags); // the table was found and read
        Assert.Contains("--port", flags);
        return flags;
    }

    /// <summary>The text of a file of the repository.</summary>
    public static string Source(string relativePath) => File.ReadAllText(Path.Combine(RepositoryRoot, relativePath));

    [GeneratedRegex("""(?:new|Flag)\("([a-z0-9-]+)", "[^"]*", (?:"[A-Za-z0-9]+:[A-Za-z0-9]+"|nameof\(|[A-Z][A-Za-z]+Key,)""")]
    private static partial Regex FlagEntry();

    private static string FindRoot()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "Llama4Cluster.sln"))) return d.FullName;
        throw new InvalidOperationException("Llama4Cluster.sln not found above " + AppContext.BaseDirectory);
    }
}
