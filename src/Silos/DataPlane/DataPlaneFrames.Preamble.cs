using System.Buffers.Binary;
using System.Net.Sockets;
using Llama4Cluster.Contracts.Experts;

namespace Llama4Cluster.Silos.DataPlane;

/// <summary>The connection preamble of the data plane (see <see cref="DataPlaneFrames"/>).</summary>
internal static partial class DataPlaneFrames
{
    /// <summary>Writes this side's preamble: the magic <c>L4DP</c> and <paramref name="version"/>.</summary>
    public static Task WritePreambleAsync(Socket socket, CancellationToken cancellationToken, ushort version = ProtocolVersion)
    {
        return SendAllAsync(socket, DataPlanePreamble.Create(version), cancellationToken);
    }

    /// <summary>
    /// Reads the peer's preamble: its protocol version, or null when the stream is not a data plane (wrong magic).
    /// Throws <see cref="EndOfStreamException"/> when the peer closes first and <see cref="OperationCanceledException"/>
    /// when it says nothing within <see cref="PreambleTimeout"/>.
    /// </summary>
    public static async Task<ushort?> ReadPreambleAsync(Socket socket, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(PreambleTimeout);
        var preamble = new byte[PreambleLength];
        int read = 0;
        while (read < PreambleLength)
        {
            int n = await socket.ReceiveAsync(preamble.AsMemory(read), SocketFlags.None, timeout.Token);
            if (n == 0) throw new EndOfStreamException("the data-plane peer closed the connection during the preamble");
            read += n;
        }
        if (!preamble.AsSpan(0, 4).SequenceEqual("L4DP"u8)) return null;
        return BinaryPrimitives.ReadUInt16LittleEndian(preamble.AsSpan(4));
    }
}
