namespace Llama4Cluster.Core.Tests.Scheduling;

/// <summary>Upper bounds on waits, so a broken scheduler fails a test instead of hanging it (never an expected duration).</summary>
internal static class Bounds
{
    public static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);
}
