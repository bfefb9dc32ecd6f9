namespace Llama4Cluster.Core.Tests.Scheduling;

/// <summary>A clock that moves only when the test says: deadlines without waiting.</summary>
internal sealed class ManualTimeProvider : TimeProvider
{
    private static readonly DateTimeOffset s_origin = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
    private long _ticks;

    public override long TimestampFrequency => TimeSpan.TicksPerSecond;

    public override long GetTimestamp() => Interlocked.Read(ref _ticks);

    public override DateTimeOffset GetUtcNow() => s_origin + TimeSpan.FromTicks(GetTimestamp());

    public void Advance(TimeSpan by) => Interlocked.Add(ref _ticks, by.Ticks);
}
