using System.Collections.ObjectModel;
using System.Diagnostics;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry.Trace;

namespace Llama4Cluster.Gateway.Tests.Hosting;

/// <summary>
/// A one-command gateway (tiny model, co-hosted silo, socket data plane, Orleans dashboard on an OS-chosen port) whose
/// OpenTelemetry traces also go to an in-memory exporter (<see cref="Spans"/>). The exporter's provider listens to every <c>Llama4Cluster.*</c> source of the test
/// process, so tests pick their own request's trace by id.
/// </summary>
public sealed class TelemetryFixture : IAsyncLifetime
{
    private readonly string _cache = Path.Combine(Path.GetTempPath(), "l4c-otel-" + Guid.NewGuid().ToString("N")[..12]);

    public SpanList Spans { get; } = new();

    public InProcessGateway Gateway { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Gateway = await InProcessGateway.StartAsync(["--cache-dir", _cache, "--data-plane", "tcp", "--dashboard", "0"],
            configure: builder => builder.Services.ConfigureOpenTelemetryTracerProvider(tracing => tracing.AddInMemoryExporter(Spans)));
        await Gateway.WaitReadyAsync();
    }

    public async Task DisposeAsync()
    {
        await Gateway.DisposeAsync();
        if (Directory.Exists(_cache)) Directory.Delete(_cache, recursive: true);
    }

    /// <summary>The exporter's target: ended spans, added from the exporting thread, read by the test's.</summary>
    public sealed class SpanList : Collection<Activity>
    {
        private readonly Lock _gate = new();

        public Activity[] Snapshot()
        {
            lock (_gate) return [.. this];
        }

        protected override void InsertItem(int index, Activity item)
        {
            lock (_gate) base.InsertItem(index, item);
        }
    }
}
