using System.Buffers;
using System.Buffers.Binary;
using System.Collections.Immutable;
using System.Diagnostics;
using System.Net.Sockets;
using System.Text;
using Llama4Cluster.Contracts.Experts;
using Llama4Cluster.Contracts.Tensors;

namespace Llama4Cluster.Silos.DataPlane;

/// <summary>
/// Frames of the tensor data plane: <c>[body length u32][request id u64][kind u8][meta length u32][meta][data]</c>,
/// little-endian; body = meta + data. For a request or response the meta is its small fields and the tensor's dtype and
/// shape, and the data is the tensor's bytes as they are (no codec): a frame goes out as one gathered send of a pooled
/// header+meta buffer and the payload's own memory, and comes in straight into the pooled buffer that becomes the
/// received <see cref="TensorPayload"/>. Errors carry UTF-8 text as data, raw echoes opaque bytes. Every length is
/// validated against the frame and the shape before anything is allocated. Many requests share one connection; ids
/// match replies. A connection opens with a preamble each way (<c>"L4DP"</c>, protocol version u16, reserved u16) so
/// that silos of different builds refuse each other with a clear error instead of misreading frames. A request's meta ends
/// with the W3C trace context of the dispatch that sent it (<see cref="DataPlaneTraceContext"/>, protocol version 3), so the
/// shard's spans join the request's trace across processes.
/// </summary>
internal static partial class DataPlaneFrames
{
    public const int HeaderLength = 17;

    /// <summary>The frame layout's version, sent in the preamble; bump it with any change to the layout.</summary>
    public const ushort ProtocolVersion = DataPlanePreamble.ProtocolVersion;

    public const int PreambleLength = DataPlanePreamble.Length;

    /// <summary>How long either side waits for the other's preamble.</summary>
    public static readonly TimeSpan PreambleTimeout = TimeSpan.FromSeconds(10);
    public const byte Request = 1;
    public const byte Response = 2;
    public const byte Error = 3;

    /// <summary>A request answered with its own inputs, no compute (the data-plane benchmark).</summary>
    public const byte Echo = 4;

    /// <summary>Bytes sent back untouched, no codec, in a frame of the same kind: the benchmark's cross-process raw TCP baseline.</summary>
    public const byte RawEcho = 5;

    /// <summary>Largest frame body accepted (1 GiB): a longer length means a corrupt or foreign stream.</summary>
    public const int MaxBodyLength = 1 << 30;

    /// <summary>Largest meta accepted.</summary>
    public const int MaxMetaLength = 64 << 10;

    private const int MaxDims = 8;

    /// <summary>A request's meta before its expert lists: layer, shard, rank, pass, replica (i32 each), step (i64), expert count (i32).</summary>
    private const int RequestFixedMeta = 5 * 4 + 8 + 4;

    /// <summary>Writes a request (<see cref="Request"/> or <see cref="Echo"/>) frame. Callers hold the connection's write lock.</summary>
    /// <paramref name="trace"/> is the sender's span (default: none).
    public static Task WriteRequestAsync(Socket socket, ulong id, byte kind, ExpertShardRequest request, CancellationToken cancellationToken,
        ActivityContext trace = default)
    {
        int meta = RequestFixedMeta + 8 * request.ExpertIds.Length + TensorMetaLength(request.Inputs) + DataPlaneTraceContext.Length(trace);
        var buffer = ArrayPool<byte>.Shared.Rent(HeaderLength + meta);
        var span = buffer.AsSpan(HeaderLength, meta);
        int o = 0;
        Put32(span, ref o, request.Layer);
        Put32(span, ref o, request.Shard);
        Put32(span, ref o, request.Rank);
        Put32(span, ref o, request.Pass);
        Put32(span, ref o, request.Replica);
        BinaryPrimitives.WriteInt64LittleEndian(span[o..], request.Step);
        o += 8;
        if (request.Counts.Length != request.ExpertIds.Length) throw new ArgumentException("expert ids and counts differ in length", nameof(request));
        Put32(span, ref o, request.ExpertIds.Length);
        foreach (int e in request.ExpertIds) Put32(span, ref o, e);
        foreach (int c in request.Counts) Put32(span, ref o, c);
        PutTensorMeta(span, ref o, request.Inputs);
        DataPlaneTraceContext.Write(span, ref o, trace);
        return SendAsync(socket, buffer, id, kind, meta, request.Inputs.Data, cancellationToken);
    }

    /// <summary>Writes a <see cref="Response"/> frame. Callers hold the connection's write lock.</summary>
    public static Task WriteResponseAsync(Socket socket, ulong id, ExpertShardResponse response, CancellationToken cancellationToken)
    {
        int meta = 8 + TensorMetaLength(response.Outputs);
        var buffer = ArrayPool<byte>.Shared.Rent(HeaderLength + meta);
        var span = buffer.AsSpan(HeaderLength, meta);
        int o = 0;
        BinaryPrimitives.WriteDoubleLittleEndian(span, response.ComputeMilliseconds);
        o += 8;
        PutTensorMeta(span, ref o, response.Outputs);
        return SendAsync(socket, buffer, id, Response, meta, response.Outputs.Data, cancellationToken);
    }

    /// <summary>Writes a frame of opaque bytes (an error's text, a raw echo). Callers hold the connection's write lock.</summary>
    public static Task WriteBytesAsync(Socket socket, ulong id, byte kind, ReadOnlyMemory<byte> data, CancellationToken cancellationToken) =>
        SendAsync(socket, ArrayPool<byte>.Shared.Rent(HeaderLength), id, kind, 0, data, cancellationToken);

    public static Task WriteErrorAsync(Socket socket, ulong id, string message, CancellationToken cancellationToken) =>
        WriteBytesAsync(socket, id, Error, Encoding.UTF8.GetBytes(message), cancellationToken);

    private static async Task SendAsync(Socket socket, byte[] headerAndMeta, ulong id, byte kind, int meta, ReadOnlyMemory<byte> data,
        CancellationToken cancellationToken)
    {
        try
        {
            long body = (long)meta + data.Length;
            if (body > MaxBodyLength) throw new InvalidOperationException($"a data-plane frame of {body} bytes exceeds the {MaxBodyLength}-byte limit");
            var header = headerAndMeta.AsSpan(0, HeaderLength);
            BinaryPrimitives.WriteUInt32LittleEndian(header, (uint)body);
            BinaryPrimitives.WriteUInt64LittleEndian(header[4..], id);
            header[12] = kind;
            BinaryPrimitives.WriteUInt32LittleEndian(header[13..], (uint)meta);
            var head = new ArraySegment<byte>(headerAndMeta, 0, HeaderLength + meta);
            if (data.IsEmpty)
            {
                await SendAllAsync(socket, head, cancellationToken);
            }
            else if (System.Runtime.InteropServices.MemoryMarshal.TryGetArray(data, out var segment) && segment.Array is not null)
            {
                // One gathered send: header+meta and the tensor's own bytes, no copy into a frame buffer.
                int total = head.Count + segment.Count;
                // No cancellation here: the pooled header must outlive the send (a stuck peer is ended by closing the connection).
                int sent = await socket.SendAsync(new[] { head, segment }, SocketFlags.None);
                if (sent < total)
                {
                    // A short gathered send (not expected on a blocking-semantics stream socket): finish the rest.
                    if (sent < head.Count)
                    {
                        await SendAllAsync(socket, head[sent..], cancellationToken);
                        sent = head.Count;
                    }
                    await SendAllAsync(socket, segment[(sent - head.Count)..], cancellationToken);
                }
            }
            else
            {
                await SendAllAsync(socket, head, cancellationToken);
                await SendAllAsync(socket, data, cancellationToken);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(headerAndMeta);
        }
    }

    private static async Task SendAllAsync(Socket socket, ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
    {
        while (!data.IsEmpty)
        {
            int n = await socket.SendAsync(data, SocketFlags.None, cancellationToken);
            if (n <= 0) throw new IOException("the data-plane connection accepted no bytes");
            data = data[n..];
        }
    }

    private static void Put32(Span<byte> span, ref int o, int value)
    {
        BinaryPrimitives.WriteInt32LittleEndian(span[o..], value);
        o += 4;
    }

    private static int TensorMetaLength(TensorPayload payload) => 2 + 8 * payload.Shape.Count;

    private static void PutTensorMeta(Span<byte> span, ref int o, TensorPayload payload)
    {
        if (payload.Shape.Count > MaxDims) throw new ArgumentException($"a tensor of {payload.Shape.Count} dimensions exceeds the data plane's {MaxDims}");
        span[o++] = (byte)payload.DType;
        span[o++] = (byte)payload.Shape.Count;
        foreach (long d in payload.Shape)
        {
            BinaryPrimitives.WriteInt64LittleEndian(span[o..], d);
            o += 8;
        }
    }

    /// <summary>One frame's header and meta as read; <see cref="FrameReader.ReadDataAsync"/> or the typed readers take its data.</summary>
    internal readonly record struct FrameHead(ulong Id, byte Kind, int BodyLength, int MetaLength)
    {
        public int DataLength => BodyLength - MetaLength;
    }

    /// <summary>
    /// Reads frames off one connection through a small buffer (header and meta in one receive, usually); tensor bytes
    /// beyond what is buffered are received straight into the destination. One reader per connection, one frame at a time.
    /// </summary>
    internal sealed class FrameReader(Socket socket)
    {
        private readonly byte[] _buffer = new byte[64 << 10];
        private int _start;
        private int _end;
        private readonly byte[] _meta = new byte[MaxMetaLength];

        /// <summary>The next frame's header, its meta in <see cref="Meta"/>; null at a clean end of stream (between frames).</summary>
        public async ValueTask<FrameHead?> ReadHeadAsync(CancellationToken cancellationToken)
        {
            if (_end == _start && !await FillAsync(1, cancellationToken)) return null;
            if (!await FillAsync(HeaderLength, cancellationToken)) throw new EndOfStreamException("the data-plane connection closed mid-frame");
            var header = _buffer.AsSpan(_start, HeaderLength);
            uint body = BinaryPrimitives.ReadUInt32LittleEndian(header);
            ulong id = BinaryPrimitives.ReadUInt64LittleEndian(header[4..]);
            byte kind = header[12];
            uint meta = BinaryPrimitives.ReadUInt32LittleEndian(header[13..]);
            _start += HeaderLength;
            if (body > MaxBodyLength) throw new InvalidDataException($"data-plane frame body of {body} bytes exceeds the {MaxBodyLength}-byte limit");
            if (meta > MaxMetaLength || meta > body) throw new InvalidDataException($"data-plane frame meta of {meta} bytes is invalid (body {body} bytes)");
            if (kind is < Request or > RawEcho) throw new InvalidDataException($"unknown data-plane frame kind {kind}");
            await ReadExactlyAsync(_meta.AsMemory(0, (int)meta), cancellationToken);
            return new FrameHead(id, kind, (int)body, (int)meta);
        }

        public ReadOnlySpan<byte> Meta(FrameHead head) => _meta.AsSpan(0, head.MetaLength);

        /// <summary>The frame's data in a buffer rented from the shared pool (the caller returns it).</summary>
        public async ValueTask<byte[]> ReadDataAsync(FrameHead head, CancellationToken cancellationToken)
        {
            var data = ArrayPool<byte>.Shared.Rent(Math.Max(1, head.DataLength));
            try
            {
                await ReadExactlyAsync(data.AsMemory(0, head.DataLength), cancellationToken);
            }
            catch
            {
                ArrayPool<byte>.Shared.Return(data);
                throw;
            }
            return data;
        }

        public async ValueTask<string> ReadTextAsync(FrameHead head, CancellationToken cancellationToken)
        {
            var data = await ReadDataAsync(head, cancellationToken);
            try
            {
                return Encoding.UTF8.GetString(data, 0, head.DataLength);
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(data);
            }
        }

        public async ValueTask<ExpertShardRequest> ReadRequestAsync(FrameHead head, CancellationToken cancellationToken) =>
            (await ReadTracedRequestAsync(head, cancellationToken)).Request;

        /// <summary>A request and the trace context of the span that sent it (default when it carried none).</summary>
        public async ValueTask<(ExpertShardRequest Request, ActivityContext Trace)> ReadTracedRequestAsync(FrameHead head, CancellationToken cancellationToken)
        {
            var m = ParseRequestMeta(Meta(head));
            var inputs = await ReadTensorAsync(head, m.DType, m.Shape, cancellationToken);
            return (new ExpertShardRequest(m.Layer, m.Shard, m.Rank, m.Step, m.Experts, m.Counts, inputs, m.Pass, m.Replica), m.Trace);
        }

        public async ValueTask<ExpertShardResponse> ReadResponseAsync(FrameHead head, CancellationToken cancellationToken)
        {
            var meta = Meta(head);
            if (meta.Length < 8) throw new InvalidDataException("data-plane response meta is too short");
            double ms = BinaryPrimitives.ReadDoubleLittleEndian(meta);
            int o = 8;
            var (dtype, shape) = ParseTensorMeta(meta, ref o);
            if (o != meta.Length) throw new InvalidDataException("data-plane response meta has trailing bytes");
            var outputs = await ReadTensorAsync(head, dtype, shape, cancellationToken);
            return new ExpertShardResponse(outputs, ms);
        }

        private static RequestMeta ParseRequestMeta(ReadOnlySpan<byte> meta)
        {
            if (meta.Length < RequestFixedMeta) throw new InvalidDataException("data-plane request meta is too short");
            int layer = BinaryPrimitives.ReadInt32LittleEndian(meta);
            int shard = BinaryPrimitives.ReadInt32LittleEndian(meta[4..]);
            int rank = BinaryPrimitives.ReadInt32LittleEndian(meta[8..]);
            int pass = BinaryPrimitives.ReadInt32LittleEndian(meta[12..]);
            int replica = BinaryPrimitives.ReadInt32LittleEndian(meta[16..]);
            long step = BinaryPrimitives.ReadInt64LittleEndian(meta[20..]);
            int n = BinaryPrimitives.ReadInt32LittleEndian(meta[28..]);
            int o = RequestFixedMeta;
            if (n < 0 || (long)n * 8 > meta.Length - o) throw new InvalidDataException($"data-plane request meta declares {n} experts, more than it holds");
            var experts = ImmutableArray.CreateBuilder<int>(n);
            for (int i = 0; i < n; i++, o += 4) experts.Add(BinaryPrimitives.ReadInt32LittleEndian(meta[o..]));
            var counts = ImmutableArray.CreateBuilder<int>(n);
            for (int i = 0; i < n; i++, o += 4) counts.Add(BinaryPrimitives.ReadInt32LittleEndian(meta[o..]));
            var (dtype, shape) = ParseTensorMeta(meta, ref o);
            var trace = DataPlaneTraceContext.Read(meta, ref o);
            if (o != meta.Length) throw new InvalidDataException("data-plane request meta has trailing bytes");
            return new RequestMeta(layer, shard, rank, pass, replica, step, experts.MoveToImmutable(), counts.MoveToImmutable(), dtype, shape, trace);
        }

        private readonly record struct RequestMeta(int Layer, int Shard, int Rank, int Pass, int Replica, long Step, ImmutableArray<int> Experts,
            ImmutableArray<int> Counts, WireDType DType, long[] Shape, ActivityContext Trace);

        private static (WireDType, long[]) ParseTensorMeta(ReadOnlySpan<byte> meta, ref int o)
        {
            if (meta.Length - o < 2) throw new InvalidDataException("data-plane tensor meta is too short");
            var dtype = (WireDType)meta[o++];
            if (!WireDTypes.IsDefined(dtype)) throw new InvalidDataException($"unknown wire dtype {(byte)dtype} in a data-plane frame");
            int dims = meta[o++];
            if (dims > MaxDims || meta.Length - o < dims * 8) throw new InvalidDataException($"data-plane tensor meta declares {dims} dimensions, more than it holds");
            var shape = new long[dims];
            for (int i = 0; i < dims; i++, o += 8)
            {
                shape[i] = BinaryPrimitives.ReadInt64LittleEndian(meta[o..]);
                if (shape[i] < 0 || shape[i] > MaxBodyLength) throw new InvalidDataException($"invalid dimension {shape[i]} in a data-plane frame");
            }
            return (dtype, shape);
        }

        private async ValueTask<TensorPayload> ReadTensorAsync(FrameHead head, WireDType dtype, long[] shape, CancellationToken cancellationToken)
        {
            long expected = WireDTypes.ElementSize(dtype);
            foreach (long d in shape)
            {
                expected *= d;
                if (expected > MaxBodyLength) break;
            }
            if (expected != head.DataLength)
                throw new InvalidDataException($"data-plane frame carries {head.DataLength} tensor bytes; a {dtype} [{string.Join(", ", shape)}] tensor has {expected}");
            var data = await ReadDataAsync(head, cancellationToken);
            try
            {
                return TensorPayload.FromPooledBuffer(dtype, shape, data, head.DataLength);
            }
            catch
            {
                ArrayPool<byte>.Shared.Return(data);
                throw;
            }
        }

        /// <summary>Skips the frame's data (a reply nobody waits for any more).</summary>
        public async ValueTask SkipDataAsync(FrameHead head, CancellationToken cancellationToken)
        {
            int left = head.DataLength;
            while (left > 0)
            {
                if (_end == _start && !await FillAsync(1, cancellationToken)) throw new EndOfStreamException("the data-plane connection closed mid-frame");
                int n = Math.Min(left, _end - _start);
                _start += n;
                left -= n;
            }
        }

        private async ValueTask ReadExactlyAsync(Memory<byte> destination, CancellationToken cancellationToken)
        {
            int buffered = Math.Min(destination.Length, _end - _start);
            _buffer.AsMemory(_start, buffered).CopyTo(destination);
            _start += buffered;
            destination = destination[buffered..];
            // Large remainders go straight into the destination; small ones through the buffer (fewer receives).
            while (destination.Length >= _buffer.Length / 2)
            {
                int n = await socket.ReceiveAsync(destination, SocketFlags.None, cancellationToken);
                if (n == 0) throw new EndOfStreamException("the data-plane connection closed mid-frame");
                destination = destination[n..];
            }
            if (destination.IsEmpty) return;
            if (!await FillAsync(destination.Length, cancellationToken)) throw new EndOfStreamException("the data-plane connection closed mid-frame");
            _buffer.AsMemory(_start, destination.Length).CopyTo(destination);
            _start += destination.Length;
        }

        /// <summary>Buffers at least <paramref name="count"/> bytes (≤ half the buffer); false when the stream ends first.</summary>
        private async ValueTask<bool> FillAsync(int count, CancellationToken cancellationToken)
        {
            if (_end - _start >= count) return true;
            if (_start > 0)
            {
                Buffer.BlockCopy(_buffer, _start, _buffer, 0, _end - _start);
                _end -= _start;
                _start = 0;
            }
            while (_end < count)
            {
                int n = await socket.ReceiveAsync(_buffer.AsMemory(_end), SocketFlags.None, cancellationToken);
                if (n == 0) return false;
                _end += n;
            }
            return true;
        }
    }
}
