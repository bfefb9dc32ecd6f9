using System.Buffers.Binary;
using System.IO.MemoryMappedFiles;
using System.Text.Json;
using TorchSharp;

namespace Llama4Cluster.Kernels.Checkpoints;

/// <summary>
/// One safetensors file, memory-mapped read-only. Layout: an 8-byte little-endian header length N,
/// N bytes of UTF-8 JSON (<c>{"name": {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {...}}</c>),
/// then the data section, to which <c>data_offsets</c> are relative. <see cref="Read"/> copies only the
/// requested byte range out of the mapping, so a caller can stream one expert out of a 20 GB tensor.
/// <see cref="TryView"/> instead hands out a torch tensor over the file's bytes, no copy: libtorch maps the file
/// once per element type (<c>torch.from_file</c>, private copy-on-write pages, so an in-place op on a weight can
/// never write to the checkpoint), and every view holds that mapping's storage, so it outlives this object and is
/// unmapped when the last view is disposed. Thread-safe for concurrent reads.
/// </summary>
public sealed unsafe class SafetensorsFile : IDisposable
{
    /// <summary>The upper bound the reference implementation puts on the header (100 MB).</summary>
    public const long MaxHeaderLength = 100_000_000;

    private readonly MemoryMappedFile _map;
    private readonly MemoryMappedViewAccessor _view;
    private readonly byte* _base;
    private readonly long _dataOffset;
    private readonly long _length;
    private readonly Dictionary<torch.ScalarType, torch.Tensor> _torchMaps = new();
    private long _bytesRead;
    private bool _disposed;

    private SafetensorsFile(string path, long length, MemoryMappedFile map, MemoryMappedViewAccessor view, byte* basePointer, long dataOffset,
        Dictionary<string, SafetensorsTensorInfo> tensors)
    {
        Path = path;
        _length = length;
        _map = map;
        _view = view;
        _base = basePointer;
        _dataOffset = dataOffset;
        Tensors = tensors;
    }

    public string Path { get; }

    /// <summary>Header entries by the name stored in the file; <c>__metadata__</c> is not a tensor and is skipped.</summary>
    public IReadOnlyDictionary<string, SafetensorsTensorInfo> Tensors { get; }

    /// <summary>
    /// Bytes of tensor data taken from the data section: copied by <see cref="Read"/>, read through
    /// <see cref="Address"/>, or viewed in place by <see cref="TryView"/> (the header is not counted).
    /// </summary>
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
            var file = new SafetensorsFile(path, length, map, view, p, dataOffset, tensors);
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

    /// <summary>
    /// A tensor of <paramref name="shape"/> and element type <paramref name="dtype"/> over the file's bytes of tensor
    /// <paramref name="info"/> from <paramref name="offsetInTensor"/> on, without a copy; null when those bytes are not
    /// aligned to the element size (libtorch needs aligned elements), so the caller copies instead. The caller owns the
    /// view; the mapping lives as long as any view of it.
    /// </summary>
    internal torch.Tensor? TryView(SafetensorsTensorInfo info, long offsetInTensor, long[] shape, torch.ScalarType dtype, int elementSize)
    {
        long bytes = SafetensorsDTypes.ElementCount(shape) * elementSize;
        return ViewAt(CheckRange(info, offsetInTensor, bytes), bytes, shape, dtype, elementSize, info.Name);
    }

    /// <summary>
    /// As <see cref="TryView"/> over tensors <paramref name="first"/> to <paramref name="last"/>, which the caller has
    /// checked lie back to back in this file: one view of shape <paramref name="shape"/> spanning all their bytes.
    /// </summary>
    internal torch.Tensor? TryViewSpan(SafetensorsTensorInfo first, SafetensorsTensorInfo last, long[] shape, torch.ScalarType dtype, int elementSize)
    {
        long bytes = SafetensorsDTypes.ElementCount(shape) * elementSize;
        long start = CheckRange(first, 0, 0), end = CheckRange(last, last.ByteLength, 0);
        if (end - start != bytes)
            throw new CheckpointException(Path, first.Name, $"a view of {bytes} bytes from it to '{last.Name}' would not cover exactly their {end - start} bytes");
        return ViewAt(start, bytes, shape, dtype, elementSize, first.Name);
    }

    private torch.Tensor? ViewAt(long start, long bytes, long[] shape, torch.ScalarType dtype, int elementSize, string tensor)
    {
        if (start % elementSize != 0) return null;
        var strides = new long[shape.Length];
        long stride = 1;
        for (int i = shape.Length - 1; i >= 0; i--)
        {
            strides[i] = stride;
            stride *= shape[i];
        }
        torch.Tensor view;
        lock (_torchMaps)
        {
            // Under the lock, so that Dispose cannot free the mapping's handle between the lookup and the view.
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (!_torchMaps.TryGetValue(dtype, out var map))
            {
                try
                {
                    // One mapping of the whole file per element type; the header bytes are mapped too but never viewed.
                    map = torch.from_file(Path, shared: false, size: _length / elementSize, dtype: dtype).DetachFromDisposeScope();
                }
                catch (System.Runtime.InteropServices.ExternalException e)
                {
                    throw new CheckpointException(Path, tensor, $"cannot be mapped in place: libtorch could not map the file ({e.Message}); was it changed since it was opened?", e);
                }
                _torchMaps[dtype] = map;
            }
            view = map.as_strided(shape, strides, start / elementSize);
        }
        Interlocked.Add(ref _bytesRead, bytes);
        return view;
    }

    /// <summary>
    /// The address of <paramref name="bytes"/> bytes of tensor <paramref name="info"/> starting <paramref name="offsetInTensor"/>
    /// bytes into its data, for kernels that convert straight from the mapping. Valid until <see cref="Dispose"/>.
    /// </summary>
    internal nint Address(SafetensorsTensorInfo info, long offsetInTensor, long bytes)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        long start = CheckRange(info, offsetInTensor, bytes);
        Interlocked.Add(ref _bytesRead, bytes);
        return (nint)(_base + start);
    }

    /// <summary>The absolute file offset of the range, after checking it lies inside the tensor.</summary>
    private long CheckRange(SafetensorsTensorInfo info, long offsetInTensor, long bytes)
    {
        if (!Tensors.TryGetValue(info.Name, out var own) || !ReferenceEquals(own, info))
            throw new CheckpointException(Path, info.Name, "no such tensor in this file");
        if (offsetInTensor < 0 || bytes < 0 || offsetInTensor + bytes > info.ByteLength)
        {
            throw new CheckpointException(Path, info.Name,
                $"read of {bytes} bytes at offset {offsetInTensor} is outside the tensor's {info.ByteLength} bytes");
        }
        return _dataOffset + info.DataStart + offsetInTensor;
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
        lock (_torchMaps)
        {
            if (_disposed) return;
            _disposed = true;
            // Views handed out keep their mapping alive; only this object's handles go here.
            foreach (var map in _torchMaps.Values) map.Dispose();
            _torchMaps.Clear();
        }
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
