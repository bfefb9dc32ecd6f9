using System.Text;
using OpenTelemetry;
using OpenTelemetry.Metrics;

namespace Llama4Cluster.ServiceDefaults;

/// <summary>
/// The host's OpenTelemetry metrics as Prometheus text, on demand: a pull reader of the host's meter provider whose
/// exporter writes each collected metric with <see cref="PrometheusMetricText"/>. Unlike OpenTelemetry's Prometheus
/// exporter it keeps the project's own names as chosen (an instrument <c>llama4.expert_tokens</c> is
/// <c>llama4:expert_tokens_total</c>) and adds no scope labels, so the series sit beside the gateway's hand-written vLLM
/// ones. Thread-safe: one collection at a time.
/// </summary>
public sealed class MetricsScrape : IDisposable
{
    private readonly TextExporter _exporter = new();
    private readonly Lock _gate = new();

    public MetricsScrape()
    {
        Reader = new BaseExportingMetricReader(_exporter) { TemporalityPreference = MetricReaderTemporalityPreference.Cumulative };
    }

    /// <summary>The reader registered with the host's meter provider.</summary>
    public MetricReader Reader { get; }

    /// <summary>Appends every metric collected now to <paramref name="text"/>; nothing before the meter provider is built.</summary>
    public void WriteTo(StringBuilder text)
    {
        ArgumentNullException.ThrowIfNull(text);
        lock (_gate)
        {
            _exporter.Target = text;
            try
            {
                Reader.Collect();
            }
            finally
            {
                _exporter.Target = null;
            }
        }
    }

    /// <summary>Every metric collected now, as Prometheus text.</summary>
    public string Render()
    {
        var text = new StringBuilder(16 << 10);
        WriteTo(text);
        return text.ToString();
    }

    public void Dispose() => Reader.Dispose();

    // Push and pull (the default modes): the SDK lets a pull-only exporter's reader collect only inside its own Prometheus
    // scope, so Collect() would return false. Nothing pushes here: a BaseExportingMetricReader exports only when collected.
    private sealed class TextExporter : BaseExporter<Metric>
    {
        public StringBuilder? Target { get; set; }

        public override ExportResult Export(in Batch<Metric> batch)
        {
            if (Target is not { } text) return ExportResult.Success;
            foreach (var metric in batch) PrometheusMetricText.Write(text, metric);
            return ExportResult.Success;
        }
    }
}
