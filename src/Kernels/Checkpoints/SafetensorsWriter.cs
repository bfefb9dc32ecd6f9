using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Llama4Cluster.Kernels.Checkpoints;

/// <summary>
/// Collects tensors (name, dtype, shape, little-endian bytes) in memory and writes them as one safetensors
/// file, or as a Hugging Face sharded set (<c>model-0000k-of-0000N.safetensors</c> plus
/// <c>model.safetensors.index.json</c>). Meant for test checkpoints and small conversions: every tensor is
/// held in memory until written.
/// </summary>
public sealed class SafetensorsWriter
{
    /// <summary>Name of the Hugging Face shard index file.</summary>
    public const string IndexFileName = "model.safetensors.index.json";

    /// <summary>Name of an unsharded checkpoint file.</summary>
    public const string SingleFileName = "model.safetensors";

    private readonly List<Entry> _entries = [];
    private readonly HashSet<string> _names = new(StringComparer.Ordinal);

    /// <summary>Optional <c>__metadata__</c> string map (the reference writer puts <c>{"format": "pt"}</c> there).</summary>
    public Dictionary<string, string> Metadata { get; } = new(StringComparer.Ordinal) { ["format"] = "pt" };

    /// <summary>Tensor names in the order they were added (and will be laid out).</summary>
    public IReadOnlyList<string> Names => _entries.Select(e => e.Name).ToArray();

    /// <summary>Total bytes of tensor data (the HF index's <c>total_size</c>).</summary>
    public long DataLength => _entries.Sum(e => (long)e.Data.Length);

    /// <summary>Adds a tensor from its raw little-endian bytes; the length must match dtype and shape.</summary>
    public void Add(string name, SafetensorsDType dtype, long[] shape, byte[] data)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentNullException.ThrowIfNull(shape);
        ArgumentNullException.ThrowIfNull(data);
        if (name == "__metadata__") throw new ArgumentException("'__metadata__' is reserved", nameof(name));
        long expected = SafetensorsDTypes.ElementCount(shape) * SafetensorsDTypes.ElementSize(dtype);
        if (data.Length != expected)
            throw new ArgumentException($"{name}: {data.Length} bytes given, {dtype} {SafetensorsDTypes.FormatShape(shape)} needs {expected}", nameof(data));
        if (!_names.Add(name)) throw new ArgumentException($"{name} was already added", nameof(name));
        _entries.Add(new Entry(name, dtype, (long[])shape.Clone(), data));
    }

    /// <summary>Adds fp32 values encoded as <paramref name="dtype"/> (BF16 rounds to nearest even).</summary>
    public void AddSingles(string name, SafetensorsDType dtype, long[] shape, ReadOnlySpan<float> values) =>
        Add(name, dtype, shape, FloatFormats.EncodeFromSingle(dtype, values));

    /// <summary>Writes all tensors to one file at <paramref name="path"/>.</summary>
    public void Write(string path) => WriteFile(path, _entries, Metadata);

    /// <summary>
    /// Splits the tensors, in insertion order, into <paramref name="shardCount"/> files of roughly equal size and
    /// writes them with the index. Returns the weight map (tensor name → shard file name).
    /// </summary>
    public IReadOnlyDictionary<string, string> WriteSharded(string directory, int shardCount)
    {
        if (shardCount < 1 || shardCount > _entries.Count)
            throw new ArgumentOutOfRangeException(nameof(shardCount), shardCount, $"needs 1..{_entries.Count} shards (one tensor at least per shard)");
        Directory.CreateDirectory(directory);
        long total = DataLength;
        var groups = new List<List<Entry>>();
        var current = new List<Entry>();
        long cumulative = 0;
        for (int i = 0; i < _entries.Count; i++)
        {
            current.Add(_entries[i]);
            cumulative += _entries[i].Data.Length;
            int remainingTensors = _entries.Count - i - 1, remainingShards = shardCount - groups.Count - 1;
            bool full = cumulative * shardCount >= total * (groups.Count + 1);
            if (remainingShards > 0 && (full || remainingTensors == remainingShards))
            {
                groups.Add(current);
                current = [];
            }
        }
        groups.Add(current);

        var weightMap = new SortedDictionary<string, string>(StringComparer.Ordinal);
        for (int k = 0; k < groups.Count; k++)
        {
            string file = ShardFileName(k + 1, shardCount);
            WriteFile(Path.Combine(directory, file), groups[k], Metadata);
            foreach (var e in groups[k]) weightMap[e.Name] = file;
        }
        WriteIndex(directory, weightMap, total);
        return weightMap;
    }

    /// <summary>The Hugging Face shard name, e.g. <c>model-00002-of-00005.safetensors</c> (1-based).</summary>
    public static string ShardFileName(int shard, int shardCount) => $"model-{shard:D5}-of-{shardCount:D5}.safetensors";

    /// <summary>Writes <c>model.safetensors.index.json</c>: <c>{"metadata": {"total_size"}, "weight_map": {name: file}}</c>.</summary>
    public static void WriteIndex(string directory, IReadOnlyDictionary<string, string> weightMap, long totalSize)
    {
        var map = new JsonObject();
        foreach (var (name, file) in weightMap.OrderBy(kv => kv.Key, StringComparer.Ordinal)) map[name] = file;
        var root = new JsonObject
        {
            ["metadata"] = new JsonObject { ["total_size"] = totalSize },
            ["weight_map"] = map,
        };
        File.WriteAllText(Path.Combine(directory, IndexFileName), root.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
    }

    private static void WriteFile(string path, IReadOnlyList<Entry> entries, IReadOnlyDictionary<string, string> metadata)
    {
        var header = new JsonObject();
        if (metadata.Count > 0)
        {
            var meta = new JsonObject();
            foreach (var (k, v) in metadata) meta[k] = v;
            header["__metadata__"] = meta;
        }
        long offset = 0;
        foreach (var e in entries)
        {
            header[e.Name] = new JsonObject
            {
                ["dtype"] = e.DType.ToString(),
                ["shape"] = new JsonArray(e.Shape.Select(d => (JsonNode)d).ToArray()),
                ["data_offsets"] = new JsonArray(offset, offset + e.Data.Length),
            };
            offset += e.Data.Length;
        }
        byte[] json = Encoding.UTF8.GetBytes(header.ToJsonString());
        // Pad with spaces so that the data section starts 8-byte aligned, as the reference writer does.
        int padded = (json.Length + 7) / 8 * 8;
        using var stream = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20);
        Span<byte> length = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(length, (ulong)padded);
        stream.Write(length);
        stream.Write(json);
        for (int i = json.Length; i < padded; i++) stream.WriteByte((byte)' ');
        foreach (var e in entries) stream.Write(e.Data);
    }

    private sealed record Entry(string Name, SafetensorsDType DType, long[] Shape, byte[] Data);
}
