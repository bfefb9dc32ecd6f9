using System.Buffers.Binary;
using System.Collections.Immutable;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Llama4Cluster.Contracts.Experts;
using Llama4Cluster.Contracts.Tensors;
using Llama4Cluster.Silos.DataPlane;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Serialization;

namespace Llama4Cluster.Silos.Tests.DataPlane;

/// <summary>
/// The socket data plane's framing: requests and responses cross a real loopback socket intact (tensor bytes received
/// into a pooled buffer), malformed frames are refused, and a broken connection fails in-flight requests with a
/// <see cref="DataPlaneException"/> instead of hanging. The waits below only guard against a hang; nothing is timed.
/// </summary>
public sealed class DataPlaneFramesTests
{
    private static readonly TimeSpan HangGuard = TimeSpan.FromSeconds(30);

    private static async Task<(Socket Client, Socket Server, TcpListener Listener)> PairAsync()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var accept = listener.AcceptSocketAsync();
        var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        await client.ConnectAsync(listener.LocalEndpoint);
        return (client, await accept, listener);
    }

    private static TensorPayload Payload(int rows, int cols)
    {
        var data = new byte[rows * cols * 2];
        new Random(rows * 31 + cols).NextBytes(data);
        return new TensorPayload(WireDType.BFloat16, [rows, cols], data);
    }

    [Theory]
    [InlineData(1, 8)]
    [InlineData(48, 2048)] // larger than the reader's buffer: received straight into the payload's buffer
    public async Task RequestAndResponseRoundTripOverASocket(int rows, int cols)
    {
        var (client, server, listener) = await PairAsync();
        using var _ = client;
        using var __ = server;
        listener.Stop();
        var inputs = Payload(rows, cols);
        var request = new ExpertShardRequest(3, 1, 2, 77, [4, 9], [rows - rows / 2, rows / 2], inputs, Pass: 5, Replica: 1);
        var reader = new DataPlaneFrames.FrameReader(server);

        await DataPlaneFrames.WriteRequestAsync(client, 42, DataPlaneFrames.Request, request, default);
        var head = await reader.ReadHeadAsync(default);
        Assert.NotNull(head);
        Assert.Equal(42UL, head.Value.Id);
        Assert.Equal(DataPlaneFrames.Request, head.Value.Kind);
        var got = await reader.ReadRequestAsync(head.Value, default);
        Assert.Equal((3, 1, 2, 77L, 5, 1), (got.Layer, got.Shard, got.Rank, got.Step, got.Pass, got.Replica));
        Assert.Equal(request.ExpertIds.ToArray(), got.ExpertIds.ToArray());
        Assert.Equal(request.Counts.ToArray(), got.Counts.ToArray());
        Assert.Equal(inputs.Shape.ToArray(), got.Inputs.Shape.ToArray());
        Assert.Equal(inputs.DType, got.Inputs.DType);
        Assert.True(got.Inputs.IsPooled);
        Assert.True(inputs.Data.Span.SequenceEqual(got.Inputs.Data.Span));

        var response = new ExpertShardResponse(got.Inputs, 1.5);
        var back = new DataPlaneFrames.FrameReader(client);
        await DataPlaneFrames.WriteResponseAsync(server, 43, response, default);
        got.Inputs.ReturnBuffer();
        await DataPlaneFrames.WriteErrorAsync(server, 44, "no such shard", default);
        var rh = await back.ReadHeadAsync(default);
        var r = await back.ReadResponseAsync(rh!.Value, default);
        Assert.Equal(1.5, r.ComputeMilliseconds);
        Assert.True(inputs.Data.Span.SequenceEqual(r.Outputs.Data.Span));
        r.Outputs.ReturnBuffer();
        var eh = await back.ReadHeadAsync(default);
        Assert.Equal(DataPlaneFrames.Error, eh!.Value.Kind);
        Assert.Equal("no such shard", await back.ReadTextAsync(eh.Value, default));

        server.Shutdown(SocketShutdown.Send);
        Assert.Null(await back.ReadHeadAsync(default)); // clean end between frames
    }

    [Fact]
    public async Task OversizedOrInconsistentFramesAreRefused()
    {
        var (client, server, listener) = await PairAsync();
        using var _ = client;
        using var __ = server;
        listener.Stop();
        var reader = new DataPlaneFrames.FrameReader(server);

        // Body length over the limit.
        var header = new byte[DataPlaneFrames.HeaderLength];
        BinaryPrimitives.WriteUInt32LittleEndian(header, uint.MaxValue);
        header[12] = DataPlaneFrames.Request;
        await client.SendAsync(header);
        await Assert.ThrowsAsync<InvalidDataException>(async () => await reader.ReadHeadAsync(default));

        // A tensor whose declared shape does not match the bytes that follow.
        var (c2, s2, l2) = await PairAsync();
        using var ___ = c2;
        using var ____ = s2;
        l2.Stop();
        var request = new ExpertShardRequest(1, 0, 0, 0, [0], [2], Payload(2, 4));
        await DataPlaneFrames.WriteRequestAsync(c2, 1, DataPlaneFrames.Request, request, default);
        var raw = new byte[64 << 10];
        int n = 0;
        while (n < DataPlaneFrames.HeaderLength || n < DataPlaneFrames.HeaderLength + BinaryPrimitives.ReadUInt32LittleEndian(raw))
            n += await s2.ReceiveAsync(raw.AsMemory(n));
        // Re-send the same frame with one tensor byte more declared in the body length.
        BinaryPrimitives.WriteUInt32LittleEndian(raw, BinaryPrimitives.ReadUInt32LittleEndian(raw) + 1);
        await s2.SendAsync(raw.AsMemory(0, n));
        await s2.SendAsync(new byte[1]);
        var r2 = new DataPlaneFrames.FrameReader(c2);
        var head = await r2.ReadHeadAsync(default);
        await Assert.ThrowsAsync<InvalidDataException>(async () => await r2.ReadRequestAsync(head!.Value, default));
    }

    /// <summary>A listener standing in for a remote data plane, a client that will connect to it, and a request to send.</summary>
    private static (TcpListener Listener, DataEndpoint Endpoint, DataPlaneClient Client, ExpertShardRequest Request) ClientOfAFakePeer()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var endpoint = new DataEndpoint("127.0.0.1", ((IPEndPoint)listener.LocalEndpoint).Port);
        var serializer = new ServiceCollection().AddSerializer().BuildServiceProvider().GetRequiredService<Serializer>();
        return (listener, endpoint, new DataPlaneClient(serializer), new ExpertShardRequest(1, 0, 0, 0, [0], [4], Payload(4, 16)));
    }

    /// <summary>Accepts a connection and answers the client's preamble as a data-plane server of <paramref name="version"/>.</summary>
    private static async Task<Socket> AcceptPeerAsync(TcpListener listener, ushort version = DataPlaneFrames.ProtocolVersion)
    {
        var peer = await listener.AcceptSocketAsync();
        Assert.Equal(DataPlaneFrames.ProtocolVersion, await DataPlaneFrames.ReadPreambleAsync(peer, default));
        await DataPlaneFrames.WritePreambleAsync(peer, default, version);
        return peer;
    }

    [Fact]
    public async Task APeerOfAnotherProtocolVersionIsRefusedWithBothVersionsNamed()
    {
        var (listener, endpoint, client, request) = ClientOfAFakePeer();
        using var _ = listener;
        using var __ = client;
        ushort newer = DataPlaneFrames.ProtocolVersion + 1;

        var serve = Task.Run(async () =>
        {
            using var peer = await AcceptPeerAsync(listener, newer);
            await Task.Delay(200);
        });
        var e = await Assert.ThrowsAsync<DataPlaneException>(() => client.ComputeAsync(endpoint, request, default).WaitAsync(HangGuard));
        Assert.Contains($"version {newer}", e.Message);
        Assert.Contains($"speaks {DataPlaneFrames.ProtocolVersion}", e.Message);
        await serve;

        // A listener that is not a data plane at all (an HTTP server, say) is named as such.
        var foreign = Task.Run(async () =>
        {
            using var peer = await listener.AcceptSocketAsync();
            await peer.SendAsync("HTTP/1.1"u8.ToArray());
            await Task.Delay(200);
        });
        var e2 = await Assert.ThrowsAsync<DataPlaneException>(() => client.ComputeAsync(endpoint, request, default).WaitAsync(HangGuard));
        Assert.Contains("not a Llama4Cluster data plane", e2.Message);
        await foreign;
    }

    [Fact]
    public async Task AnAdvertisedEndpointNobodyListensOnFailsNamingTheSiloAndTheAddress()
    {
        var (listener, endpoint, client, request) = ClientOfAFakePeer();
        using var __ = client;
        listener.Stop(); // the port is closed now: a connection attempt is refused
        var silo = endpoint with { Silo = "S127.0.0.1:11111:123" };

        var e = await Assert.ThrowsAsync<DataPlaneException>(() => client.ComputeAsync(silo, request, default).WaitAsync(HangGuard));
        Assert.Contains($"of silo S127.0.0.1:11111:123 at 127.0.0.1:{endpoint.Port}", e.Message);
        Assert.Contains("cannot connect (ConnectionRefused", e.Message);
        Assert.Contains("--advertise", e.Message);
    }

    [Fact]
    public async Task ABrokenConnectionFailsInFlightRequestsWithADataPlaneError()
    {
        var (listener, endpoint, client, request) = ClientOfAFakePeer();
        using var _ = listener;
        using var __ = client;

        // The peer reads the request, then closes without answering.
        var serve = Task.Run(async () =>
        {
            using var peer = await AcceptPeerAsync(listener);
            var reader = new DataPlaneFrames.FrameReader(peer);
            var head = await reader.ReadHeadAsync(default);
            (await reader.ReadRequestAsync(head!.Value, default)).Inputs.ReturnBuffer();
        });
        var e = await Assert.ThrowsAsync<DataPlaneException>(() => client.ComputeAsync(endpoint, request, default).WaitAsync(HangGuard));
        Assert.Contains("connection", e.Message);
        await serve;

        // The next request opens a new connection; this peer answers with a frame that cannot be valid.
        var garbage = Task.Run(async () =>
        {
            using var peer = await AcceptPeerAsync(listener);
            var reader = new DataPlaneFrames.FrameReader(peer);
            var head = await reader.ReadHeadAsync(default);
            (await reader.ReadRequestAsync(head!.Value, default)).Inputs.ReturnBuffer();
            var bad = new byte[DataPlaneFrames.HeaderLength];
            BinaryPrimitives.WriteUInt32LittleEndian(bad, 16);
            BinaryPrimitives.WriteUInt64LittleEndian(bad.AsSpan(4), head.Value.Id);
            bad[12] = 99; // unknown kind
            await peer.SendAsync(bad);
            await Task.Delay(200);
        });
        var e2 = await Assert.ThrowsAsync<DataPlaneException>(() => client.ComputeAsync(endpoint, request, default).WaitAsync(HangGuard));
        Assert.Contains("kind", e2.Message);
        await garbage;
    }

    [Fact]
    public async Task ARequestFrameCarriesTheSendersTraceContextOrNone()
    {
        var (client, server, listener) = await PairAsync();
        using var _ = client;
        using var __ = server;
        listener.Stop();
        var reader = new DataPlaneFrames.FrameReader(server);
        var sent = new ActivityContext(ActivityTraceId.CreateRandom(), ActivitySpanId.CreateRandom(), ActivityTraceFlags.Recorded);

        await DataPlaneFrames.WriteRequestAsync(client, 1, DataPlaneFrames.Request, new ExpertShardRequest(1, 0, 0, 3, [2], [2], Payload(2, 8)), default, sent);
        await DataPlaneFrames.WriteRequestAsync(client, 2, DataPlaneFrames.Request, new ExpertShardRequest(1, 0, 0, 4, [2], [2], Payload(2, 8)), default);

        var (traced, context) = await reader.ReadTracedRequestAsync((await reader.ReadHeadAsync(default))!.Value, default);
        traced.Inputs.ReturnBuffer();
        Assert.Equal(3, traced.Step);
        Assert.Equal(sent.TraceId, context.TraceId);
        Assert.Equal(sent.SpanId, context.SpanId);
        Assert.Equal(ActivityTraceFlags.Recorded, context.TraceFlags);
        Assert.True(context.IsRemote);
        var (plain, none) = await reader.ReadTracedRequestAsync((await reader.ReadHeadAsync(default))!.Value, default);
        plain.Inputs.ReturnBuffer();
        Assert.Equal(4, plain.Step);
        Assert.Equal(default, none);
    }

    [Fact]
    public async Task TheClientSendsTheCurrentSpanAsTheRequestsParent()
    {
        using var source = new ActivitySource("Llama4Cluster.Tests.DataPlane." + Guid.NewGuid().ToString("N"));
        using var listen = new ActivityListener
        {
            ShouldListenTo = s => s == source,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
        };
        ActivitySource.AddActivityListener(listen);
        var (listener, endpoint, client, request) = ClientOfAFakePeer();
        using var ___ = listener;
        using var ____ = client;
        var received = new TaskCompletionSource<ActivityContext>();
        var serve = Task.Run(async () =>
        {
            using var peer = await AcceptPeerAsync(listener);
            var reader = new DataPlaneFrames.FrameReader(peer);
            var head = await reader.ReadHeadAsync(default);
            var (got, context) = await reader.ReadTracedRequestAsync(head!.Value, default);
            received.SetResult(context);
            await DataPlaneFrames.WriteResponseAsync(peer, head.Value.Id, new ExpertShardResponse(got.Inputs, 0.5), default);
            got.Inputs.ReturnBuffer();
        });

        using (var dispatch = source.StartActivity("moe.dispatch"))
        {
            Assert.NotNull(dispatch);
            var response = await client.ComputeAsync(endpoint, request, default).WaitAsync(HangGuard);
            response.Outputs.ReturnBuffer();
            var context = await received.Task.WaitAsync(HangGuard);
            Assert.Equal(dispatch.TraceId, context.TraceId);
            Assert.Equal(dispatch.SpanId, context.SpanId);
            Assert.Equal(ActivityTraceFlags.Recorded, context.TraceFlags);
        }
        await serve;
    }
}
