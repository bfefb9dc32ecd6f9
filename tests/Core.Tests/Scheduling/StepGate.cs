using System.Threading.Channels;

namespace Llama4Cluster.Core.Tests.Scheduling;

/// <summary>
/// Holds the steps of a <see cref="FakeStepBackend"/> at their entry until the test lets them through, and reports
/// each arrival: a test can act between two steps without any timing.
/// </summary>
internal sealed class StepGate
{
    private readonly Channel<StepCall> _arrived = Channel.CreateUnbounded<StepCall>();
    private readonly SemaphoreSlim _permits = new(0);
    private volatile bool _open;

    public async Task PassAsync(StepCall call, CancellationToken cancellationToken)
    {
        _arrived.Writer.TryWrite(call);
        if (!_open) await _permits.WaitAsync(cancellationToken);
    }

    /// <summary>The next step that reached the gate (held there unless the gate is open).</summary>
    public async Task<StepCall> ArrivalAsync() => await _arrived.Reader.ReadAsync().AsTask().WaitAsync(Bounds.Wait);

    /// <summary>Lets <paramref name="steps"/> held or future steps through.</summary>
    public void Allow(int steps = 1) => _permits.Release(steps);

    /// <summary>Lets every step through from now on.</summary>
    public void Open()
    {
        _open = true;
        _permits.Release(1_000_000);
    }
}
