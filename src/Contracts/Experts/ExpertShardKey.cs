using System.Globalization;

namespace Llama4Cluster.Contracts.Experts;

/// <summary>
/// The identity of an expert shard grain: MoE layer and shard index, as the string key
/// <c>"{layer}/{shard}"</c> (readable in logs and in the placement director).
/// </summary>
public readonly record struct ExpertShardKey(int Layer, int Shard)
{
    public string Format() => string.Create(CultureInfo.InvariantCulture, $"{Layer}/{Shard}");

    public override string ToString() => $"layer {Layer} shard {Shard}";

    public static ExpertShardKey Parse(string key)
    {
        ArgumentNullException.ThrowIfNull(key);
        int slash = key.IndexOf('/', StringComparison.Ordinal);
        if (slash <= 0
            || !int.TryParse(key.AsSpan(0, slash), NumberStyles.None, CultureInfo.InvariantCulture, out int layer)
            || !int.TryParse(key.AsSpan(slash + 1), NumberStyles.None, CultureInfo.InvariantCulture, out int shard))
        {
            throw new FormatException($"expert shard key '{key}': expected \"layer/shard\", e.g. \"3/1\"");
        }
        return new ExpertShardKey(layer, shard);
    }
}
