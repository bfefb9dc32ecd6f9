using System.Buffers;
using System.Buffers.Binary;
using Orleans.Serialization.Buffers;
using Orleans.Serialization.Codecs;
using Orleans.Serialization.WireProtocol;

namespace Llama4Cluster.Contracts.Tensors;

/// <summary>
/// Wire format of <see cref="TensorPayload"/>: one length-prefixed field holding
/// <c>[dtype: u8][rank: u8][dims: rank × i64 LE][data bytes]</c>. The data is written with a single
/// span copy into Orleans' pooled output buffers and read with a single copy into a buffer rented from
/// <see cref="ArrayPool{T}.Shared"/> — never element by element.
/// </summary>
[RegisterSerializer]
public sealed class TensorPayloadCodec : IFieldCodec<TensorPayload>
{
    /// <summary>Highest rank accepted on read (activations are 2-D; a bound keeps a corrupt header cheap).</summary>
    public const int MaxRank = 8;

    private static readonly Type CodecFieldType = typeof(TensorPayload);

    void IFieldCodec<TensorPayload>.WriteField<TBufferWriter>(ref Writer<TBufferWriter> writer, uint fieldIdDelta, Type? expectedType, TensorPayload? value)
    {
        if (ReferenceCodec.TryWriteReferenceField(ref writer, fieldIdDelta, expectedType, value)) return;
        // TryWriteReferenceField wrote a null marker for null.
        ArgumentNullException.ThrowIfNull(value);
        var shape = value.Shape;
        int headerLength = 2 + 8 * shape.Count;
        writer.WriteFieldHeader(fieldIdDelta, expectedType, CodecFieldType, WireType.LengthPrefixed);
        writer.WriteVarUInt32(checked((uint)(headerLength + value.Data.Length)));
        Span<byte> header = stackalloc byte[2 + 8 * MaxRank];
        header[0] = (byte)value.DType;
        header[1] = checked((byte)shape.Count);
        for (int i = 0; i < shape.Count; i++)
            BinaryPrimitives.WriteInt64LittleEndian(header.Slice(2 + 8 * i, 8), shape[i]);
        writer.Write(header[..headerLength]);
        writer.Write(value.Data.Span);
    }

    TensorPayload IFieldCodec<TensorPayload>.ReadValue<TInput>(ref Reader<TInput> reader, Field field)
    {
        if (field.WireType == WireType.Reference)
            return ReferenceCodec.ReadReference<TensorPayload, TInput>(ref reader, field)!;
        field.EnsureWireType(WireType.LengthPrefixed);
        uint length = reader.ReadVarUInt32();
        var dtype = (WireDType)reader.ReadByte();
        int rank = reader.ReadByte();
        if (!WireDTypes.IsDefined(dtype) || rank > MaxRank || length < 2 + 8u * (uint)rank)
            throw new InvalidDataException($"corrupt tensor payload header (dtype {(int)dtype}, rank {rank}, length {length})");
        var shape = new long[rank];
        for (int i = 0; i < rank; i++) shape[i] = reader.ReadInt64();
        int dataLength = checked((int)(length - 2 - 8 * (uint)rank));
        var buffer = ArrayPool<byte>.Shared.Rent(dataLength);
        try
        {
            reader.ReadBytes(buffer.AsSpan(0, dataLength));
            var result = new TensorPayload(dtype, shape, buffer.AsMemory(0, dataLength), buffer);
            ReferenceCodec.RecordObject(reader.Session, result);
            return result;
        }
        catch
        {
            ArrayPool<byte>.Shared.Return(buffer);
            throw;
        }
    }
}
