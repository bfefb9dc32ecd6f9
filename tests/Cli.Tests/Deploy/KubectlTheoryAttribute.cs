namespace Llama4Cluster.Cli.Tests.Deploy;

/// <summary>A theory that renders manifests with <c>kubectl kustomize</c> (.ci/run installs kubectl); skipped, with the reason,
/// where kubectl is not on the PATH.</summary>
public sealed class KubectlTheoryAttribute : TheoryAttribute
{
    public const string MissingReason =
        "kubectl is not on the PATH (apt-get install -y kubectl): the deploy/k8s overlays cannot be rendered";

    public KubectlTheoryAttribute()
    {
        if (Find() is null) Skip = MissingReason;
    }

    public static string? Find() =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Select(d => Path.Combine(d, "kubectl")).FirstOrDefault(File.Exists);
}
