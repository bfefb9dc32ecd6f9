using System.Globalization;

namespace Llama4Cluster.Contracts.Experts;

/// <summary>
/// The identity of an expert shard grain: MoE layer, shard index and replica, as the string key <c>"{layer}/{shard}"</c>
/// for replica 0 and <c>"{layer}/{shard}/{replica}"</c> for the others (readable in logs and in the placement director).
/// Every replica of a shard holds the same experts; the dispatcher sends a request to one of them.
/// </summary>
public readonly record struct ExpertShardKey(int Layer, int Shard, int Replica = 0)
{
    public string Format() => Replica == 0
        ? string.Create(CultureInfo.InvariantCulture, $"{Layer}/{Shard}")
        : string.Create(CultureInfo.InvariantCulture, $"{Layer}/{Shard}/{Replica}");

    public override string ToString() => Replica == 0 ? $"layer {Layer} shard {Shard}" : $"layer {Layer} shard {Shard} replica {Replica}";

    public static ExpertShardKey Parse(string key)
    {
        ArgumentNullException.ThrowIfNull(key);
        var parts = key.Split('/');
        if (parts.Length is 2 or 3 && Index(parts[0]) is int layer && Index(parts[1]) is int shard
            && (parts.Length == 2 ? 0 : Index(parts[2])) is int replica)
        {
            return new ExpertShardKey(layer, shard, replica);
        }

        throw new FormatException($"expert shard key '{key}': expected \"layer/shard\" or \"layer/shard/replica\", e.g. \"3/1\" or \"3/1/1\"");
    }

    private static int? Index(string s) => int.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out int v) ? v : null;
}
