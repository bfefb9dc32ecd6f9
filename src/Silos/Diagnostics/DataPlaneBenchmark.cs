using System.Buffers.Binary;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Llama4Cluster.Contracts.Diagnostics;
using Llama4Cluster.Contracts.Experts;
using Llama4Cluster.Contracts.Tensors;
using Llama4Cluster.Silos.DataPlane;

namespace Llama4Cluster.Silos.Diagnostics;

/// <summary>One payload size: round trips through an Orleans grain call and through raw loopback TCP.</summary>
/// <param name="Bytes">Payload bytes each way.</param>
/// <param name="OrleansMicroseconds">Median round trip of <see cref="IPayloadEchoGrain.EchoAsync"/>.</param>
/// <param name="TcpMicroseconds">Median round trip of a length-prefixed echo over one loopback TCP connection.</param>
/// <param name="DataPlaneMicroseconds">Median round trip of an echo through our socket data plane (framing and the tensor
/// codec included), or null when not measured.</param>
/// <param name="RemoteTcpMicroseconds">Median round trip of the same bytes echoed untouched by the remote silo's data-plane
/// socket (no codec): the like-for-like cross-process raw TCP baseline, or null when not measured.</param>
public sealed record DataPlaneSample(int Bytes, double OrleansMicroseconds, double TcpMicroseconds, double? DataPlaneMicroseconds = null,
    double? RemoteTcpMicroseconds = null)
{
    public double? RemoteTcpBytesPerSecond => RemoteTcpMicroseconds is { } us ? 2.0 * Bytes / (us * 1e-6) : null;

    /// <summary>Data plane ÷ cross-process raw TCP throughput (the bar: ≥ 0.5).</summary>
    public double? DataPlaneRemoteRatio => DataPlaneBytesPerSecond / RemoteTcpBytesPerSecond;

    /// <summary>Orleans ÷ cross-process raw TCP throughput.</summary>
    public double? OrleansRemoteRatio => OrleansBytesPerSecond / RemoteTcpBytesPerSecond;

    public double? DataPlaneBytesPerSecond => DataPlaneMicroseconds is { } us ? 2.0 * Bytes / (us * 1e-6) : null;

    /// <summary>Payload bytes moved per second (both directions) through Orleans.</summary>
    public double OrleansBytesPerSecond => 2.0 * Bytes / (OrleansMicroseconds * 1e-6);

    public double TcpBytesPerSecond => 2.0 * Bytes / (TcpMicroseconds * 1e-6);

    /// <summary>Orleans ÷ raw TCP throughput (the bar for keeping Orleans as the data plane: ≥ 0.5).</summary>
    public double Ratio => OrleansBytesPerSecond / TcpBytesPerSecond;
}

/// <summary>
/// Measures Orleans messaging against raw loopback TCP for activation payloads of the given sizes, in one run
/// (ratios, not absolute times, are comparable across runs on shared machines). The Orleans side is a grain call
/// from <paramref name="grains"/> (a client or another silo) to an echo grain; the TCP side is an in-process echo
/// server, one connection, length-prefixed frames.
/// </summary>
public static class DataPlaneBenchmark
{
    public static async Task<IReadOnlyList<DataPlaneSample>> RunAsync(IGrainFactory grains, IReadOnlyList<int> sizes, int iterations,
        CancellationToken cancellationToken = default) => await RunAsync(grains, sizes, iterations, null, null, cancellationToken: cancellationToken);

    /// <summary>As above, plus echoes through the socket data plane to <paramref name="dataPlaneEndpoint"/> when given. With an
    /// <paramref name="idleGap"/> every timed round trip follows that long a pause, as the dispatches of a decode step do (the
    /// threads on both sides have gone to sleep and must be woken); without, they run back to back.</summary>
    public static async Task<IReadOnlyList<DataPlaneSample>> RunAsync(IGrainFactory grains, IReadOnlyList<int> sizes, int iterations,
        DataPlaneClient? dataPlane, DataEndpoint? dataPlaneEndpoint, TimeSpan idleGap = default, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(grains);
        var echo = grains.GetGrain<IPayloadEchoGrain>(0);
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var serverTask = Task.Run(() => ServeAsync(listener, cancellationToken), cancellationToken);
        using var client = new TcpClient { NoDelay = true };
        await client.ConnectAsync(IPAddress.Loopback, ((IPEndPoint)listener.LocalEndpoint).Port, cancellationToken);
        var stream = client.GetStream();
        var results = new List<DataPlaneSample>();
        foreach (int size in sizes)
        {
            int rows = Math.Max(1, size / 2);
            var data = new byte[rows * 2];
            Random.Shared.NextBytes(data);
            var payload = new TensorPayload(WireDType.BFloat16, [rows], data);
            var back = new byte[data.Length];
            int n = Math.Max(3, iterations);
            var orleans = new double[n];
            var tcp = new double[n];
            var plane = new double[n];
            var remote = new double[n];
            var request = new ExpertShardRequest(0, 0, 0, 0, [0], [rows], payload);
            bool withPlane = dataPlane is not null && dataPlaneEndpoint is not null;
            for (int warm = 0; warm < 3; warm++)
            {
                (await echo.EchoAsync(payload)).ReturnBuffer();
                await TcpRoundTripAsync(stream, data, back, cancellationToken);
                if (withPlane)
                {
                    (await dataPlane!.EchoAsync(dataPlaneEndpoint!, request, cancellationToken)).Outputs.ReturnBuffer();
                    await dataPlane.RawEchoAsync(dataPlaneEndpoint!, data, cancellationToken);
                }
            }
            for (int i = 0; i < n; i++)
            {
                await IdleAsync(idleGap, cancellationToken);
                long t0 = Stopwatch.GetTimestamp();
                var reply = await echo.EchoAsync(payload);
                orleans[i] = Stopwatch.GetElapsedTime(t0).TotalMicroseconds;
                reply.ReturnBuffer();
                await IdleAsync(idleGap, cancellationToken);
                t0 = Stopwatch.GetTimestamp();
                await TcpRoundTripAsync(stream, data, back, cancellationToken);
                tcp[i] = Stopwatch.GetElapsedTime(t0).TotalMicroseconds;
                if (withPlane)
                {
                    await IdleAsync(idleGap, cancellationToken);
                    t0 = Stopwatch.GetTimestamp();
                    var r = await dataPlane!.EchoAsync(dataPlaneEndpoint!, request, cancellationToken);
                    plane[i] = Stopwatch.GetElapsedTime(t0).TotalMicroseconds;
                    r.Outputs.ReturnBuffer();
                    await IdleAsync(idleGap, cancellationToken);
                    t0 = Stopwatch.GetTimestamp();
                    await dataPlane.RawEchoAsync(dataPlaneEndpoint!, data, cancellationToken);
                    remote[i] = Stopwatch.GetElapsedTime(t0).TotalMicroseconds;
                }
            }
            results.Add(new DataPlaneSample(data.Length, Median(orleans), Median(tcp), withPlane ? Median(plane) : null, withPlane ? Median(remote) : null));
        }
        client.Close();
        listener.Stop();
        try
        {
            await serverTask;
        }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException or OperationCanceledException)
        {
            // The server ends when the connection closes.
        }
        return results;
    }

    private static Task IdleAsync(TimeSpan gap, CancellationToken cancellationToken) =>
        gap > TimeSpan.Zero ? Task.Delay(gap, cancellationToken) : Task.CompletedTask;

    private static double Median(double[] values)
    {
        var sorted = values.Order().ToArray();
        return sorted[sorted.Length / 2];
    }

    private static async Task TcpRoundTripAsync(NetworkStream stream, byte[] data, byte[] back, CancellationToken cancellationToken)
    {
        var header = new byte[4];
        BinaryPrimitives.WriteInt32LittleEndian(header, data.Length);
        await stream.WriteAsync(header, cancellationToken);
        await stream.WriteAsync(data, cancellationToken);
        await stream.ReadExactlyAsync(header, cancellationToken);
        await stream.ReadExactlyAsync(back.AsMemory(0, BinaryPrimitives.ReadInt32LittleEndian(header)), cancellationToken);
    }

    private static async Task ServeAsync(TcpListener listener, CancellationToken cancellationToken)
    {
        using var socket = await listener.AcceptTcpClientAsync(cancellationToken);
        socket.NoDelay = true;
        var stream = socket.GetStream();
        var header = new byte[4];
        var buffer = Array.Empty<byte>();
        while (true)
        {
            try
            {
                await stream.ReadExactlyAsync(header, cancellationToken);
            }
            catch (EndOfStreamException)
            {
                return;
            }
            int length = BinaryPrimitives.ReadInt32LittleEndian(header);
            if (buffer.Length < length) buffer = new byte[length];
            await stream.ReadExactlyAsync(buffer.AsMemory(0, length), cancellationToken);
            await stream.WriteAsync(header, cancellationToken);
            await stream.WriteAsync(buffer.AsMemory(0, length), cancellationToken);
        }
    }
}
