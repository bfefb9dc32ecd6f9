using System.Buffers.Binary;
using System.IO.MemoryMappedFiles;
using System.Text.Json;

namespace Llama4Cluster.Kernels.Checkpoints;

/// <summary>
/// One safetensors file, memory-mapped read-only. Layout: an 8-byte little-endian header length N,
/// N bytes of UTF-8 JSON (<c>{"name": {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {...}}</c>),
/// then the data section, to which <c>data_offsets</c> are relative. <see cref="Read"/> copies only the
/// requested byte range out of the mapping, so a caller can stream one expert out of a 20 GB tensor.
/// Thread-safe for concurrent reads.
/// </summary>
public sealed unsafe class SafetensorsFile : IDisposable
{
    /// <summary>The upper bound the reference implementation puts on the header (100 MB).</summary>
    public const long MaxHeaderLength = 100_000_000;

    private readonly MemoryMappedFile _map;
    private readonly MemoryMappedViewAccessor _view;
    private readonly byte* _base;
    private readonly long _dataOffset;
    private long _bytesRead;
    private bool _disposed;

    private SafetensorsFile(string path, MemoryMappedFile map, MemoryMappedViewAccessor view, byte* basePointer, long dataOffset,
        Dictionary<string, SafetensorsTensorInfo> tensors)
    {
        Path = path;
        _map = map;
        _view = view;
        _base = basePointer;
        _dataOffset = dataOffset;
        Tensors = tensors;
    }

    public string Path { get; }

    /// <summary>Header entries by the name stored in the file; <c>__metadata__</c> is not a tensor and is skipped.</summary>
    public IReadOnlyDictionary<string, SafetensorsTensorInfo> Tensors { get; }

    /// <summary>Bytes copied out of the data section by <see cref="Read"/> (the header is not counted).</summary>
    public long BytesRead => Interlocked.Read(ref _bytesRead);

    /// <summary>
    /// Maps <paramref name="path"/> and validates the header: a sane length, JSON, known dtypes, byte counts that
    /// match the shapes, and data that lies inside the file. Any failure is a <see cref="CheckpointException"/>.
    /// </summary>
    public static SafetensorsFile Open(string path)
    {
        path = System.IO.Path.GetFullPath(path);
        if (!File.Exists(path))
            throw new CheckpointException(path, null, "file not found");
        long length = new FileInfo(path).Length;
        if (length < 8)
            throw new CheckpointException(path, null, $"file is {length} bytes; a safetensors file starts with an 8-byte header length (truncated or not a safetensors file)");

        MemoryMappedFile? map = null;
        MemoryMappedViewAccessor? view = null;
        bool acquired = false, success = false;
        try
        {
            map = MemoryMappedFile.CreateFromFile(path, FileMode.Open, mapName: null, 0, MemoryMappedFileAccess.Read);
            view = map.CreateViewAccessor(0, 0, MemoryMappedFileAccess.Read);
            byte* p = null;
            view.SafeMemoryMappedViewHandle.AcquirePointer(ref p);
            acquired = true;
            p += view.PointerOffset;

            ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(new ReadOnlySpan<byte>(p, 8));
            if (headerLength < 2 || headerLength > MaxHeaderLength || headerLength > (ulong)(length - 8))
            {
                throw new CheckpointException(path, null,
                    $"corrupt header length {headerLength} (file is {length} bytes; the header must fit in the file and be at most {MaxHeaderLength} bytes)");
            }
            long dataOffset = 8 + (long)headerLength;
            var tensors = ParseHeader(path, new ReadOnlySpan<byte>(p + 8, (int)headerLength), length - dataOffset);
            var file = new SafetensorsFile(path, map, view, p, dataOffset, tensors);
            success = true;
            return file;
        }
        catch (Exception e) when (e is (IOException or UnauthorizedAccessException) and not CheckpointException)
        {
            throw new CheckpointException(path, null, $"cannot map the file ({e.Message})", e);
        }
        finally
        {
            if (!success)
            {
                if (acquired) view!.SafeMemoryMappedViewHandle.ReleasePointer();
                view?.Dispose();
                map?.Dispose();
            }
        }
    }

    /// <summary>
    /// Copies <c>destination.Length</c> bytes of tensor <paramref name="name"/> starting <paramref name="offsetInTensor"/>
    /// bytes into its data. Touches only those pages of the file.
    /// </summary>
    public void Read(string name, long offsetInTensor, Span<byte> destination)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (!Tensors.TryGetValue(name, out var info))
            throw new CheckpointException(Path, name, "no such tensor in this file");
        if (offsetInTensor < 0 || offsetInTensor + destination.Length > info.ByteLength)
        {
            throw new CheckpointException(Path, name,
                $"read of {destination.Length} bytes at offset {offsetInTensor} is outside the tensor's {info.ByteLength} bytes");
        }
        new ReadOnlySpan<byte>(_base + _dataOffset + info.DataStart + offsetInTensor, destination.Length).CopyTo(destination);
        Interlocked.Add(ref _bytesRead, destination.Length);
    }

    /// <summary>Reads a whole tensor into a new array (small tensors only: scales, norms).</summary>
    public byte[] ReadAll(string name)
    {
        if (!Tensors.TryGetValue(name, out var info))
            throw new CheckpointException(Path, name, "no such tensor in this file");
        var bytes = new byte[info.ByteLength];
        Read(name, 0, bytes);
        return bytes;
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        _view.SafeMemoryMappedViewHandle.ReleasePointer();
        _view.Dispose();
        _map.Dispose();
    }

    private static Dictionary<string, SafetensorsTensorInfo> ParseHeader(string path, ReadOnlySpan<byte> header, long dataLength)
    {
        // The reference writer pads the header with spaces to an 8-byte boundary; JSON tolerates trailing whitespace.
        JsonDocument doc;
        try
        {
            var reader = new Utf8JsonReader(header, new JsonReaderOptions { AllowTrailingCommas = false });
            doc = JsonDocument.ParseValue(ref reader);
            // Only whitespace (the reference writer's padding) may follow; anything else makes Read throw or return true.
            if (reader.Read())
                throw new JsonException("text after the JSON object");
        }
        catch (JsonException e)
        {
            throw new CheckpointException(path, null, $"header is not valid JSON ({e.Message}); the file is corrupt or not safetensors", e);
        }
        using (doc)
        {
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
                throw new CheckpointException(path, null, $"header is a JSON {doc.RootElement.ValueKind}, expected an object of tensors");
            var tensors = new Dictionary<string, SafetensorsTensorInfo>(StringComparer.Ordinal);
            foreach (var entry in doc.RootElement.EnumerateObject())
            {
                if (entry.Name == "__metadata__") continue;
                var info = ParseEntry(path, entry.Name, entry.Value);
                if (info.DataEnd > dataLength)
                {
                    throw new CheckpointException(path, entry.Name,
                        $"data ends at byte {info.DataEnd} of the data section but the file holds only {dataLength} data bytes (truncated file)");
                }
                if (!tensors.TryAdd(entry.Name, info))
                    throw new CheckpointException(path, entry.Name, "appears twice in the header");
            }
            return tensors;
        }
    }

    private static SafetensorsTensorInfo ParseEntry(string path, string name, JsonElement e)
    {
        if (e.ValueKind != JsonValueKind.Object)
            throw new CheckpointException(path, name, "header entry is not an object with dtype, shape and data_offsets");
        if (!e.TryGetProperty("dtype", out var dt) || dt.ValueKind != JsonValueKind.String)
            throw new CheckpointException(path, name, "header entry has no dtype string");
        if (!SafetensorsDTypes.TryParse(dt.GetString(), out var dtype))
        {
            throw new CheckpointException(path, name,
                $"unknown dtype '{dt.GetString()}'; known: {string.Join(", ", Enum.GetNames<SafetensorsDType>())}");
        }
        if (!e.TryGetProperty("shape", out var sh) || sh.ValueKind != JsonValueKind.Array)
            throw new CheckpointException(path, name, "header entry has no shape array");
        var shape = new long[sh.GetArrayLength()];
        int i = 0;
        foreach (var d in sh.EnumerateArray())
        {
            if (d.ValueKind != JsonValueKind.Number || !d.TryGetInt64(out long v) || v < 0)
                throw new CheckpointException(path, name, $"shape {sh.GetRawText()} is not a list of non-negative integers");
            shape[i++] = v;
        }
        if (!e.TryGetProperty("data_offsets", out var off) || off.ValueKind != JsonValueKind.Array || off.GetArrayLength() != 2
            || !off[0].TryGetInt64(out long begin) || !off[1].TryGetInt64(out long end) || begin < 0 || end < begin)
        {
            throw new CheckpointException(path, name, "data_offsets must be [begin, end] with 0 <= begin <= end");
        }
        long expected;
        try
        {
            expected = checked(SafetensorsDTypes.ElementCount(shape) * SafetensorsDTypes.ElementSize(dtype));
        }
        catch (OverflowException)
        {
            throw new CheckpointException(path, name, $"shape {SafetensorsDTypes.FormatShape(shape)} overflows");
        }
        if (end - begin != expected)
        {
            throw new CheckpointException(path, name,
                $"data_offsets [{begin}, {end}] hold {end - begin} bytes but {dtype} {SafetensorsDTypes.FormatShape(shape)} needs {expected}");
        }
        return new SafetensorsTensorInfo(name, dtype, shape, begin, end, path);
    }
}
