using System.Buffers;

namespace Llama4Cluster.Contracts.Tensors;

/// <summary>
/// A dense tensor crossing a grain boundary: dtype, shape and its contiguous row-major bytes. Serialized
/// by <see cref="TensorPayloadCodec"/> as one length-prefixed blob (no per-element encoding); a payload
/// read off the wire holds an <see cref="ArrayPool{T}"/> buffer that its single consumer hands back with
/// <see cref="ReturnBuffer"/> once the bytes are copied into a tensor. Immutable otherwise, so local calls
/// pass it by reference.
/// </summary>
[Immutable, Alias("l4c.TensorPayload")]
public sealed class TensorPayload
{
    private byte[]? _pooled;

    public TensorPayload(WireDType dtype, long[] shape, ReadOnlyMemory<byte> data)
        : this(dtype, shape, data, pooled: null)
    {
    }

    internal TensorPayload(WireDType dtype, long[] shape, ReadOnlyMemory<byte> data, byte[]? pooled)
    {
        ArgumentNullException.ThrowIfNull(shape);
        if (!WireDTypes.IsDefined(dtype)) throw new ArgumentOutOfRangeException(nameof(dtype), dtype, "unknown wire dtype");
        long elements = 1;
        foreach (long d in shape)
        {
            if (d < 0) throw new ArgumentException($"negative dimension in shape [{string.Join(", ", shape)}]", nameof(shape));
            elements *= d;
        }
        long expected = elements * WireDTypes.ElementSize(dtype);
        if (expected != data.Length)
            throw new ArgumentException($"a {dtype} tensor of shape [{string.Join(", ", shape)}] has {expected} bytes, not {data.Length}", nameof(data));
        DType = dtype;
        Shape = shape;
        Data = data;
        _pooled = pooled;
    }

    /// <summary>
    /// A payload over <paramref name="length"/> bytes of a buffer rented from <see cref="ArrayPool{T}.Shared"/>;
    /// <see cref="ReturnBuffer"/> gives it back.
    /// </summary>
    public static TensorPayload FromPooledBuffer(WireDType dtype, long[] shape, byte[] buffer, int length)
    {
        ArgumentNullException.ThrowIfNull(buffer);
        return new TensorPayload(dtype, shape, buffer.AsMemory(0, length), buffer);
    }

    public WireDType DType { get; }

    /// <summary>Dimensions, outermost first. Not to be modified.</summary>
    public IReadOnlyList<long> Shape { get; }

    /// <summary>Row-major contiguous bytes, little-endian.</summary>
    public ReadOnlyMemory<byte> Data { get; }

    public long ElementCount => Data.Length / WireDTypes.ElementSize(DType);

    /// <summary>Size of dimension 0 (rows), or 1 for a scalar.</summary>
    public long Rows => Shape.Count == 0 ? 1 : Shape[0];

    /// <summary>True when <see cref="Data"/> lives in a pooled buffer rented by the codec.</summary>
    public bool IsPooled => _pooled is not null;

    /// <summary>
    /// Returns a pooled buffer to the pool. Call once, from the payload's only consumer, after the bytes
    /// have been copied out; <see cref="Data"/> must not be read afterwards. A no-op for payloads built
    /// from caller-owned memory.
    /// </summary>
    public void ReturnBuffer()
    {
        var pooled = Interlocked.Exchange(ref _pooled, null);
        if (pooled is not null) ArrayPool<byte>.Shared.Return(pooled);
    }

    public override string ToString() => $"{DType}[{string.Join(", ", Shape)}] ({Data.Length} B)";
}
