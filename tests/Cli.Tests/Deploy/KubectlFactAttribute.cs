namespace Llama4Cluster.Cli.Tests.Deploy;

/// <summary>A fact that renders manifests with <c>kubectl kustomize</c>; skipped, with the reason, where kubectl is not on the PATH.</summary>
public sealed class KubectlFactAttribute : FactAttribute
{
    public KubectlFactAttribute()
    {
        if (KubectlTheoryAttribute.Find() is null) Skip = KubectlTheoryAttribute.MissingReason;
    }
}
