using System.Collections.Concurrent;
using System.Text.Json;
using Llama4Cluster.Core.Config;
using TorchSharp;

namespace Llama4Cluster.Kernels.Checkpoints;

/// <summary>
/// A Hugging Face Llama 4 checkpoint directory: <c>config.json</c> plus either <c>model.safetensors.index.json</c>
/// with its shards or a single <c>model.safetensors</c> (spec §3.1, §3.2). Every file is memory-mapped and
/// validated at <see cref="Open"/>; tensors are read on demand, and <see cref="LoadExperts"/> reads only the
/// bytes of the requested experts. A weight whose stored dtype is the one asked for is used in place: the tensor
/// is a view of the mapped file (private copy-on-write pages), which stays mapped while any such tensor lives,
/// even after this reader is disposed. Other weights are converted in parallel straight from the mapping. Names are logical (<c>model.*</c>, <c>lm_head.weight</c>) whichever layout
/// the files use.
/// </summary>
public sealed partial class CheckpointReader : IDisposable
{
    private readonly List<SafetensorsFile> _files;
    private readonly Dictionary<string, CheckpointTensor> _tensors;
    private readonly ConcurrentDictionary<string, byte> _consumed = new(StringComparer.Ordinal);
    private readonly string _describedFile;

    private CheckpointReader(string directory, Llama4TextConfig config, List<SafetensorsFile> files, Dictionary<string, CheckpointTensor> tensors, string describedFile)
    {
        Directory = directory;
        Config = config;
        _files = files;
        _tensors = tensors;
        _describedFile = describedFile;
        ConsumedNames = new ConsumedView(_consumed);
    }

    public string Directory { get; }

    public Llama4TextConfig Config { get; }

    /// <summary>Logical names of every tensor in the checkpoint (vision tensors, if any, keep their on-disk names).</summary>
    public IReadOnlyCollection<string> TensorNames => _tensors.Keys;

    /// <summary>Logical names read so far by <see cref="Load"/> and <see cref="LoadExperts"/> (FP8 scales included).</summary>
    public IReadOnlySet<string> ConsumedNames { get; }

    /// <summary>Bytes of tensor data taken from the files (copied, converted, or used in place), over all files.</summary>
    public long BytesRead => _files.Sum(f => f.BytesRead);

    /// <summary>The mapped files (one, or one per shard).</summary>
    public IReadOnlyList<SafetensorsFile> Files => _files;

    public static CheckpointReader Open(string modelDirectory, Action<string>? warn = null)
    {
        string dir = Path.GetFullPath(modelDirectory);
        if (!System.IO.Directory.Exists(dir))
            throw new CheckpointException(dir, null, "checkpoint directory not found");
        string configPath = Path.Combine(dir, "config.json");
        Llama4TextConfig config;
        try
        {
            config = Llama4ConfigReader.Load(dir, warn);
        }
        catch (Exception e) when (e is InvalidDataException or IOException)
        {
            throw new CheckpointException(configPath, null, e.Message, e);
        }

        string indexPath = Path.Combine(dir, SafetensorsWriter.IndexFileName);
        string singlePath = Path.Combine(dir, SafetensorsWriter.SingleFileName);
        var files = new List<SafetensorsFile>();
        try
        {
            string described;
            if (File.Exists(indexPath))
            {
                described = indexPath;
                OpenSharded(dir, indexPath, files);
            }
            else if (File.Exists(singlePath))
            {
                described = singlePath;
                files.Add(SafetensorsFile.Open(singlePath));
            }
            else
            {
                throw new CheckpointException(dir, null,
                    $"no {SafetensorsWriter.IndexFileName} and no {SafetensorsWriter.SingleFileName}: not a Hugging Face safetensors checkpoint");
            }

            var tensors = new Dictionary<string, CheckpointTensor>(StringComparer.Ordinal);
            foreach (var file in files)
            {
                foreach (var info in file.Tensors.Values)
                {
                    string logical = CheckpointNames.ToLogical(info.Name);
                    if (!tensors.TryAdd(logical, new CheckpointTensor(file, info)))
                    {
                        var other = tensors[logical];
                        throw new CheckpointException(file.Path, info.Name,
                            $"is tensor '{logical}' after prefix stripping, which is also stored as '{other.Info.Name}' in {other.File.Path}; a checkpoint must use one name layout");
                    }
                }
            }
            return new CheckpointReader(dir, config, files, tensors, described);
        }
        catch
        {
            foreach (var f in files) f.Dispose();
            throw;
        }
    }

    public bool Contains(string logicalName) => TryLocate(logicalName, out _);

    /// <summary>
    /// Loads one tensor, checks its shape, converts it to <paramref name="dtype"/> and places it on <paramref name="device"/>.
    /// BF16/F16/F32/F64 are converted by torch; an F8_E4M3 weight with a <c>weight_scale</c> is dequantised on the CPU.
    /// The caller owns the result.
    /// </summary>
    public torch.Tensor Load(string logicalName, long[] shape, torch.ScalarType dtype, torch.Device device)
    {
        ArgumentNullException.ThrowIfNull(shape);
        var at = Locate(logicalName);
        at.CheckShape(logicalName, shape);
        using var scope = torch.NewDisposeScope();
        var result = ReadWeight(at, logicalName, dtype, device);
        return result.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Loads 2-D weights stacked by rows into one <c>[Σ rows, cols]</c> tensor (q, k, v; gate, up). When the parts lie back
    /// to back in one file, in this order and in the dtype asked for, the result is one view of the file (no copy: the
    /// Hugging Face writers sort names, so gate_proj/up_proj qualify and q/k/v do not); otherwise each part is read and
    /// copied into one new buffer. The caller owns the result.
    /// </summary>
    public torch.Tensor LoadRows(IReadOnlyList<(string Name, long[] Shape)> parts, torch.ScalarType dtype, torch.Device device)
    {
        ArgumentNullException.ThrowIfNull(parts);
        if (parts.Count == 0 || parts.Any(p => p.Shape.Length != 2 || p.Shape[1] != parts[0].Shape[1]))
            throw new ArgumentException("stacking by rows needs at least one part, every part [rows, cols] with the same cols", nameof(parts));
        var located = parts.Select(p => Locate(p.Name)).ToArray();
        for (int i = 0; i < parts.Count; i++) located[i].CheckShape(parts[i].Name, parts[i].Shape);
        using var scope = torch.NewDisposeScope();
        if (device.type == DeviceType.CPU && BackToBack(located, parts, dtype))
        {
            var first = located[0];
            long[] shape = [parts.Sum(p => p.Shape[0]), parts[0].Shape[1]];
            var view = first.File.TryViewSpan(first.Info, located[^1].Info, shape, dtype, SafetensorsDTypes.ElementSize(first.Info.DType));
            if (view is not null)
            {
                foreach (var p in parts) MarkConsumed(p.Name);
                return view.MoveToOuterDisposeScope();
            }
        }
        var loaded = located.Select((at, i) => ReadWeight(at, parts[i].Name, dtype, device)).ToArray();
        return Model.Llama4TextModel.StackRows(loaded).MoveToOuterDisposeScope();
    }

    /// <summary>Whether the parts are plain weights of <paramref name="dtype"/>, in one file, each starting where the previous ends.</summary>
    private bool BackToBack(CheckpointTensor[] located, IReadOnlyList<(string Name, long[] Shape)> parts, torch.ScalarType dtype)
    {
        for (int i = 0; i < located.Length; i++)
        {
            var info = located[i].Info;
            if (SafetensorsDTypes.ToTorch(info.DType) != dtype || !SafetensorsDTypes.IsPlainFloat(info.DType)
                || _tensors.ContainsKey(CheckpointNames.ScaleOf(parts[i].Name)))
                return false;
            if (i > 0 && (!ReferenceEquals(located[i].File, located[0].File) || info.DataStart != located[i - 1].Info.DataEnd))
                return false;
        }
        return true;
    }

    public void Dispose()
    {
        foreach (var f in _files) f.Dispose();
    }

    private static void OpenSharded(string dir, string indexPath, List<SafetensorsFile> files)
    {
        Dictionary<string, List<string>> byShard;
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllBytes(indexPath));
            if (doc.RootElement.ValueKind != JsonValueKind.Object
                || !doc.RootElement.TryGetProperty("weight_map", out var map) || map.ValueKind != JsonValueKind.Object)
            {
                throw new CheckpointException(indexPath, null, "has no \"weight_map\" object (tensor name → shard file)");
            }
            byShard = new Dictionary<string, List<string>>(StringComparer.Ordinal);
            foreach (var entry in map.EnumerateObject())
            {
                if (entry.Value.ValueKind != JsonValueKind.String || string.IsNullOrEmpty(entry.Value.GetString()))
                    throw new CheckpointException(indexPath, entry.Name, "weight_map value is not a shard file name");
                string shard = entry.Value.GetString()!;
                if (Path.GetFileName(shard) != shard)
                    throw new CheckpointException(indexPath, entry.Name, $"weight_map names '{shard}', which is not a file name in the checkpoint directory");
                if (!byShard.TryGetValue(shard, out var list)) byShard[shard] = list = [];
                list.Add(entry.Name);
            }
        }
        catch (JsonException e)
        {
            throw new CheckpointException(indexPath, null, $"is not valid JSON ({e.Message})", e);
        }

        foreach (var (shard, names) in byShard.OrderBy(kv => kv.Key, StringComparer.Ordinal))
        {
            string path = Path.Combine(dir, shard);
            string which = names.Count == 1 ? "it" : $"it and {names.Count - 1} other tensors";
            if (!File.Exists(path))
                throw new CheckpointException(path, names[0], $"{SafetensorsWriter.IndexFileName} maps {which} to this shard, which does not exist");
            SafetensorsFile file;
            try
            {
                file = SafetensorsFile.Open(path);
            }
            catch (CheckpointException e) when (e.Tensor is null)
            {
                // The header is unreadable, so name a tensor the index puts in this shard.
                throw new CheckpointException(path, names[0], $"cannot be read because its shard is broken: {e.Message}", e);
            }
            files.Add(file);
            foreach (string name in names)
            {
                if (!file.Tensors.ContainsKey(name))
                    throw new CheckpointException(path, name, $"{SafetensorsWriter.IndexFileName} maps it to this shard, but the shard's header does not contain it");
            }
        }
    }

    private bool TryLocate(string logicalName, out CheckpointTensor located)
    {
        if (_tensors.TryGetValue(logicalName, out located)) return true;
        // Tied embeddings: the head reuses embed_tokens when the checkpoint has no lm_head.
        return logicalName == CheckpointNames.LmHead && Config.TieWordEmbeddings
            && _tensors.TryGetValue(CheckpointNames.EmbedTokens, out located);
    }

    private CheckpointTensor Locate(string logicalName)
    {
        if (TryLocate(logicalName, out var at)) return at;
        throw new CheckpointException(_describedFile, logicalName,
            $"missing from the checkpoint (looked for '{logicalName}' and '{CheckpointNames.ConditionalGenerationPrefix}{logicalName}')");
    }

    private void MarkConsumed(string logicalName) => _consumed.TryAdd(logicalName, 0);

    /// <summary>A whole weight as <paramref name="dtype"/> on <paramref name="device"/>; shape already checked.</summary>
    private torch.Tensor ReadWeight(CheckpointTensor at, string logicalName, torch.ScalarType dtype, torch.Device device)
    {
        using var stored = ReadStored(at, logicalName);
        // Same dtype on the CPU: .to returns the mapped view itself, so the weight is used in place.
        if (device.type != DeviceType.CPU || stored.dtype == dtype) return stored.to(dtype, device);
        return WeightBuffers.Empty(stored.shape, dtype).copy_(stored);
    }

    /// <summary>
    /// A whole weight's values on the CPU as stored: a view of the mapped file for BF16/F16/F32/F64 (a copy only when the
    /// bytes are misaligned), fp32 for a dequantised F8_E4M3 weight. Shape already checked.
    /// </summary>
    private torch.Tensor ReadStored(CheckpointTensor at, string logicalName)
    {
        var info = at.Info;
        string scaleName = CheckpointNames.ScaleOf(logicalName);
        bool hasScale = logicalName.EndsWith(".weight", StringComparison.Ordinal) && _tensors.ContainsKey(scaleName);
        if (SafetensorsDTypes.IsPlainFloat(info.DType))
        {
            if (hasScale)
            {
                throw new CheckpointException(at.File.Path, info.Name,
                    $"is {info.DType} but has a companion '{scaleName}'; only F8_E4M3 weights are expected to carry a weight_scale");
            }
            var raw = at.ReadInPlace(0, info.Shape);
            MarkConsumed(logicalName);
            return raw;
        }
        if (info.DType == SafetensorsDType.F8_E4M3 && hasScale && info.Shape.Length == 2)
        {
            var w = at.DequantiseFp8(_tensors[scaleName], logicalName);
            MarkConsumed(logicalName);
            MarkConsumed(scaleName);
            return w;
        }
        string why = info.DType == SafetensorsDType.F8_E4M3
            ? (hasScale ? "an FP8 weight must be 2-D [out, in]" : $"it is F8_E4M3 without a companion '{scaleName}' (per-row scale)")
            : "expected BF16, F16, F32 or F64, or F8_E4M3 with a weight_scale";
        throw new CheckpointException(at.File.Path, info.Name, $"dtype {info.DType} is not supported for a weight (logical '{logicalName}'): {why}");
    }

    /// <summary>Live read-only view of the consumed-name set.</summary>
    private sealed class ConsumedView(ConcurrentDictionary<string, byte> set) : IReadOnlySet<string>
    {
        public int Count => set.Count;
        public bool Contains(string item) => set.ContainsKey(item);
        public IEnumerator<string> GetEnumerator() => set.Keys.GetEnumerator();
        System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
        public bool IsProperSubsetOf(IEnumerable<string> other) => Snapshot().IsProperSubsetOf(other);
        public bool IsProperSupersetOf(IEnumerable<string> other) => Snapshot().IsProperSupersetOf(other);
        public bool IsSubsetOf(IEnumerable<string> other) => Snapshot().IsSubsetOf(other);
        public bool IsSupersetOf(IEnumerable<string> other) => Snapshot().IsSupersetOf(other);
        public bool Overlaps(IEnumerable<string> other) => Snapshot().Overlaps(other);
        public bool SetEquals(IEnumerable<string> other) => Snapshot().SetEquals(other);
        private HashSet<string> Snapshot() => new(set.Keys, StringComparer.Ordinal);
    }
}
