using System.Diagnostics;

namespace Llama4Cluster.Kernels.Diagnostics;

/// <summary>
/// The attention ranks' spans, with System.Diagnostics only (the hosts' OpenTelemetry collects every <c>Llama4Cluster.*</c>
/// source): <c>rank.step</c> (one engine step on an attention rank, or on a staged rank the first stage's part) and
/// <c>rank.pass</c> (a later stage's part of one forward pass). Each MoE layer's expert dispatch is a child.
/// </summary>
public static class KernelsTelemetry
{
    public const string Name = "Llama4Cluster.Kernels";

    public static readonly ActivitySource Source = new(Name);
}
