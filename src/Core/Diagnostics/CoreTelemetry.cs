using System.Diagnostics;

namespace Llama4Cluster.Core.Diagnostics;

/// <summary>
/// The scheduler's spans, with System.Diagnostics only (Core takes no OpenTelemetry dependency; the hosts' OpenTelemetry
/// collects every <c>Llama4Cluster.*</c> source). <c>scheduler.step</c>: one engine step of the continuous-batching
/// scheduler, child of the first of its sequences' requests (the span current when the sequence was submitted, e.g. the
/// gateway's HTTP request), linked to the other requests it serves; its rank calls are its children.
/// </summary>
public static class CoreTelemetry
{
    public const string Name = "Llama4Cluster.Core";

    public static readonly ActivitySource Source = new(Name);
}
