namespace Llama4Cluster.Silos.Experts;

/// <summary>
/// When a dispatcher stops waiting for a replica and sends the same rows to a sibling too (a hedged request): after
/// the smoothed answer time plus four deviations (TCP's retransmission rule, RFC 6298), learned from answers to
/// requests of the same size class (rows, by powers of two), never sooner than <see cref="Floor"/>. A silo that has
/// just been killed keeps its sockets open while the kernel tears the process down (half a second for a large
/// process): its calls neither answer nor fail, and the hedge is what bounds the stall. A size class without answers
/// yet borrows the nearest smaller class's figures scaled by the row ratio (or a larger class's as they are); with no
/// answers at all, there is no hedge (the replica timeout still bounds the call). Thread-safe.
/// </summary>
public sealed class HedgeTimer(TimeSpan ceiling)
{
    /// <summary>The earliest a hedge is sent: below it, scheduling noise on a busy host would hedge healthy calls.</summary>
    public static readonly TimeSpan Floor = TimeSpan.FromMilliseconds(25);

    private const int Classes = 32;
    private readonly double[] _smoothed = new double[Classes];
    private readonly double[] _deviation = new double[Classes];
    private readonly Lock _lock = new();

    /// <summary>Learns from an answer of a request of <paramref name="rows"/> rows that took <paramref name="elapsed"/>.</summary>
    public void Observe(int rows, TimeSpan elapsed)
    {
        int c = Class(rows);
        double r = elapsed.TotalMilliseconds;
        lock (_lock)
        {
            if (_smoothed[c] == 0)
            {
                _smoothed[c] = Math.Max(r, 1e-3);
                _deviation[c] = r / 2;
                return;
            }
            _deviation[c] = 0.75 * _deviation[c] + 0.25 * Math.Abs(_smoothed[c] - r);
            _smoothed[c] = 0.875 * _smoothed[c] + 0.125 * r;
        }
    }

    /// <summary>How long to wait for a request of <paramref name="rows"/> rows before hedging it; null: do not hedge.</summary>
    public TimeSpan? After(int rows)
    {
        int c = Class(rows);
        double? ms = null;
        lock (_lock)
        {
            for (int lower = c; lower >= 0 && ms is null; lower--)
                if (_smoothed[lower] > 0) ms = (_smoothed[lower] + 4 * _deviation[lower]) * Math.Pow(2, c - lower);
            for (int upper = c + 1; upper < Classes && ms is null; upper++)
                if (_smoothed[upper] > 0) ms = _smoothed[upper] + 4 * _deviation[upper];
        }
        if (ms is not { } wait) return null;
        var after = TimeSpan.FromMilliseconds(Math.Max(wait, Floor.TotalMilliseconds));
        return after < ceiling ? after : null;
    }

    private static int Class(int rows) => Math.Min(Classes - 1, rows <= 1 ? 0 : 32 - System.Numerics.BitOperations.LeadingZeroCount((uint)(rows - 1)));
}
