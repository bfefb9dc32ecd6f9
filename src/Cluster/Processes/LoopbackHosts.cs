using System.Globalization;

namespace Llama4Cluster.Cluster.Processes;

/// <summary>
/// Loopback addresses that stand for separate hosts in a cluster on one machine: silo <c>i</c> advertises and binds
/// 127.0.0.(2 + i), so nothing about the cluster works only because every process shares 127.0.0.1. Linux routes all of
/// 127.0.0.0/8 to the loopback interface; other systems need an alias per address first.
/// </summary>
public static class LoopbackHosts
{
    /// <summary>The most silos that get an address of their own (127.0.0.2 … 127.0.0.254).</summary>
    public const int Max = 253;

    /// <summary>What <c>--silo-addresses</c> takes: <c>loopback</c> (every silo on 127.0.0.1) or <c>distinct</c>.</summary>
    public static bool ParseMode(string? value) => value switch
    {
        null or "loopback" => false,
        "distinct" => true,
        _ => throw new ArgumentException($"--silo-addresses: '{value}' is not a mode (loopback: every silo on 127.0.0.1; distinct: 127.0.0.2, 127.0.0.3, ... one per silo)"),
    };

    /// <summary>The address of silo <paramref name="index"/> (0-based): 127.0.0.2 for the first.</summary>
    public static string Address(int index)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, Max);
        return "127.0.0." + (index + 2).ToString(CultureInfo.InvariantCulture);
    }
}
