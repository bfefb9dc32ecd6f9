using System.Buffers;
using System.Buffers.Binary;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;
using Orleans.Serialization;

namespace Llama4Cluster.Silos.DataPlane;

/// <summary>
/// Frames of the tensor data plane: <c>[body length u32][request id u64][kind u8][body]</c>, little-endian. The body is
/// the Orleans serialization of an <c>ExpertShardRequest</c> or <c>ExpertShardResponse</c> (the same raw-byte tensor
/// codec as grain calls) or, for an error, UTF-8 text. Many requests share one connection; ids match replies.
/// </summary>
internal static class DataPlaneFrames
{
    public const int HeaderLength = 13;
    public const byte Request = 1;
    public const byte Response = 2;
    public const byte Error = 3;

    /// <summary>A request answered with its own inputs, no compute (the data-plane benchmark).</summary>
    public const byte Echo = 4;

    /// <summary>Bytes sent back untouched, no codec: the benchmark's cross-process raw TCP baseline.</summary>
    public const byte RawEcho = 5;

    /// <summary>Serializes <paramref name="value"/> into <paramref name="scratch"/> and writes one frame. Callers hold the connection's write lock.</summary>
    public static async Task WriteAsync<T>(NetworkStream stream, Serializer serializer, ArrayBufferWriter<byte> scratch, ulong id, byte kind, T value,
        CancellationToken cancellationToken)
    {
        scratch.Clear();
        scratch.Advance(HeaderLength); // header slot, filled in below once the body length is known
        if (value is string text)
        {
            int n = Encoding.UTF8.GetByteCount(text);
            Encoding.UTF8.GetBytes(text, scratch.GetSpan(n));
            scratch.Advance(n);
        }
        else
        {
            serializer.Serialize(value, scratch);
        }
        if (!MemoryMarshal.TryGetArray(scratch.WrittenMemory, out var frame))
            throw new InvalidOperationException("ArrayBufferWriter is expected to expose its array");
        var header = frame.AsSpan(0, HeaderLength);
        BinaryPrimitives.WriteUInt32LittleEndian(header, (uint)(frame.Count - HeaderLength));
        BinaryPrimitives.WriteUInt64LittleEndian(header[4..], id);
        header[12] = kind;
        await stream.WriteAsync(frame.AsMemory(), cancellationToken);
    }

    /// <summary>Writes one frame around caller-supplied bytes (no serialization). Callers hold the connection's write lock.</summary>
    public static async Task WriteRawAsync(NetworkStream stream, byte[] scratch, ulong id, byte kind, ReadOnlyMemory<byte> body, CancellationToken cancellationToken)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(scratch, (uint)body.Length);
        BinaryPrimitives.WriteUInt64LittleEndian(scratch.AsSpan(4), id);
        scratch[12] = kind;
        await stream.WriteAsync(scratch.AsMemory(0, HeaderLength), cancellationToken);
        await stream.WriteAsync(body, cancellationToken);
    }

    /// <summary>Reads one frame; the body lives in a pooled buffer the caller returns. Null at a clean end of stream.</summary>
    public static async Task<Frame?> ReadAsync(NetworkStream stream, byte[] header, CancellationToken cancellationToken)
    {
        int got = 0;
        while (got < HeaderLength)
        {
            int n = await stream.ReadAsync(header.AsMemory(got, HeaderLength - got), cancellationToken);
            if (n == 0)
            {
                if (got == 0) return null;
                throw new EndOfStreamException("the data-plane connection closed mid-frame");
            }
            got += n;
        }
        int length = checked((int)BinaryPrimitives.ReadUInt32LittleEndian(header));
        ulong id = BinaryPrimitives.ReadUInt64LittleEndian(header.AsSpan(4));
        byte kind = header[12];
        var body = ArrayPool<byte>.Shared.Rent(Math.Max(1, length));
        try
        {
            await stream.ReadExactlyAsync(body.AsMemory(0, length), cancellationToken);
        }
        catch
        {
            ArrayPool<byte>.Shared.Return(body);
            throw;
        }
        return new Frame(id, kind, body, length);
    }

    internal sealed record Frame(ulong Id, byte Kind, byte[] Body, int Length)
    {
        public ReadOnlyMemory<byte> Memory => Body.AsMemory(0, Length);

        public string Text => Encoding.UTF8.GetString(Body, 0, Length);

        public void Return() => ArrayPool<byte>.Shared.Return(Body);
    }
}
