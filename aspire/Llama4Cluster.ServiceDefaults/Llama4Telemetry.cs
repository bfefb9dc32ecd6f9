namespace Llama4Cluster.ServiceDefaults;

/// <summary>The names the hosts' telemetry is collected under.</summary>
public static class Llama4Telemetry
{
    /// <summary>Every <c>ActivitySource</c> and <c>Meter</c> of the project is named <c>Llama4Cluster.*</c> (Core, Kernels,
    /// Silos, Gateway: each declares its own with System.Diagnostics only, so none depends on OpenTelemetry).</summary>
    public const string SourcePattern = "Llama4Cluster.*";

    /// <summary>Orleans' meter (grain calls, messaging, membership, activations).</summary>
    public const string OrleansMeter = "Microsoft.Orleans";

    /// <summary>Orleans' spans of application grain calls (with <c>AddActivityPropagation()</c> on silos and clients).</summary>
    public const string OrleansApplicationSource = "Microsoft.Orleans.Application";

    /// <summary>Set (a URL), the hosts export logs, metrics and traces over OTLP (the Aspire dashboard, a collector).</summary>
    public const string OtlpEndpointVariable = "OTEL_EXPORTER_OTLP_ENDPOINT";

    /// <summary>The operational paths: no spans for them (probes and scrapes would bury the requests' traces).</summary>
    public static bool IsOperationalPath(string? path) =>
        path is "/health" or "/ready" or "/metrics" || (path?.StartsWith("/ops", StringComparison.Ordinal) ?? false);
}
