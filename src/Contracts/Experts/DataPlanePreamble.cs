using System.Buffers.Binary;

namespace Llama4Cluster.Contracts.Experts;

/// <summary>
/// The first bytes each side of a data-plane connection sends: <c>L4DP</c> and the protocol version (little-endian), padded
/// to <see cref="Length"/> bytes. Here so that a client that only watches a silo's listener (the step backend) speaks it
/// without the silo's code.
/// </summary>
public static class DataPlanePreamble
{
    public const ushort ProtocolVersion = 3;

    public const int Length = 8;

    public static byte[] Create(ushort version = ProtocolVersion)
    {
        var preamble = new byte[Length];
        "L4DP"u8.CopyTo(preamble);
        BinaryPrimitives.WriteUInt16LittleEndian(preamble.AsSpan(4), version);
        return preamble;
    }
}
