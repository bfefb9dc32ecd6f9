using System.Diagnostics;
using Llama4Cluster.Silos.Diagnostics;
using System.Buffers;
using System.Net;
using System.Net.Sockets;
using Llama4Cluster.Contracts.Experts;
using Llama4Cluster.Silos.Model;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Configuration;
using Orleans.Serialization;

namespace Llama4Cluster.Silos.DataPlane;

/// <summary>
/// The silo's tensor data plane: a TCP listener on the silo's listen address (Orleans' silo listening endpoint: the
/// advertised address, or a wildcard with <c>--listen</c>), started when the first expert shard asks for its endpoint,
/// which names the silo's advertised address: the one peers reach it by. Each connection carries many concurrent requests (matched by id); each request is computed by the
/// registered <see cref="IDataPlaneShard"/> of its shard and answered on the same connection, all on the silo's compute
/// threads (<see cref="Compute.TensorComputeScheduler"/>).
/// </summary>
public sealed partial class DataPlaneServer : IDisposable
{
    private readonly ExpertShardRegistry _registry;
    private readonly Serializer _serializer;
    private readonly ILocalSiloDetails _silo;
    private readonly ClusterModelOptions _options;
    private readonly EndpointOptions _endpoints;
    private readonly ILogger<DataPlaneServer> _logger;
    private readonly Compute.TensorComputeScheduler _compute;
    private readonly CancellationTokenSource _stop = new();
    private readonly object _sync = new();
    private TcpListener? _listener;
    private DataEndpoint? _endpoint;
    private long _requestsServed;

    public DataPlaneServer(ExpertShardRegistry registry, Serializer serializer, ILocalSiloDetails silo, IOptions<ClusterModelOptions> options,
        IOptions<EndpointOptions> endpoints, ILogger<DataPlaneServer> logger, SiloModelContext context)
    {
        _compute = context.Compute;
        _endpoints = endpoints.Value;
        _registry = registry;
        _serializer = serializer;
        _silo = silo;
        _options = options.Value;
        _logger = logger;
    }

    /// <summary>Requests answered with expert outputs since the silo started.</summary>
    public long RequestsServed => Interlocked.Read(ref _requestsServed);

    /// <summary>The endpoint, starting the listener on first use.</summary>
    public DataEndpoint Endpoint
    {
        get
        {
            lock (_sync)
            {
                if (_endpoint is not null) return _endpoint;
                var advertised = _silo.SiloAddress.Endpoint.Address;
                var bind = _endpoints.SiloListeningEndpoint?.Address ?? advertised;
                var listener = new TcpListener(bind, _options.DataPlanePort);
                listener.Start();
                _listener = listener;
                int port = ((IPEndPoint)listener.LocalEndpoint).Port;
                _endpoint = new DataEndpoint(advertised.ToString(), port, _silo.SiloAddress.ToString());
                _ = Task.Run(() => AcceptAsync(listener));
                LogListening(_endpoint.ToString(), listener.LocalEndpoint.ToString() ?? "?", _silo.SiloAddress.ToString());
                return _endpoint;
            }
        }
    }

    private async Task AcceptAsync(TcpListener listener)
    {
        while (!_stop.IsCancellationRequested)
        {
            TcpClient client;
            try
            {
                client = await listener.AcceptTcpClientAsync(_stop.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                return;
            }
            client.NoDelay = true;
            // The connection's loop runs on the compute threads: a request is read, computed and answered there, so a socket
            // completion wakes one thread (a compute thread) rather than a pool thread that hands over to a compute thread
            // and back: 0.1-0.3 ms per dispatch on these VMs. The loop only awaits; a compute thread never blocks on a socket.
            _ = _compute.RunAsync(async () =>
            {
                await ServeAsync(client);
                return true;
            });
        }
    }

    private async Task ServeAsync(TcpClient client)
    {
        using var connection = client;
        var socket = client.Client;
        var writeLock = new SemaphoreSlim(1, 1);
        var reader = new DataPlaneFrames.FrameReader(socket);
        try
        {
            // Both sides announce their protocol version; the connecting side reports a mismatch clearly, this side just closes.
            var version = await DataPlaneFrames.ReadPreambleAsync(socket, _stop.Token);
            await DataPlaneFrames.WritePreambleAsync(socket, _stop.Token);
            if (version != DataPlaneFrames.ProtocolVersion)
            {
                LogRefusedPeer(client.Client.RemoteEndPoint?.ToString() ?? "?", version is null ? "not a data plane" : $"protocol version {version}", DataPlaneFrames.ProtocolVersion);
                return;
            }
            while (await reader.ReadHeadAsync(_stop.Token) is { } head)
            {
                switch (head.Kind)
                {
                    case DataPlaneFrames.RawEcho:
                        await EchoRawAsync(socket, writeLock, reader, head);
                        break;
                    case DataPlaneFrames.Echo:
                        await EchoAsync(socket, writeLock, reader, head);
                        break;
                    case DataPlaneFrames.Request:
                        await ReceiveRequestAsync(socket, writeLock, reader, head);
                        break;
                    default:
                        await ReplyAsync(socket, writeLock, head.Id, $"unexpected frame kind {head.Kind}");
                        throw new InvalidDataException($"unexpected frame kind {head.Kind}");
                }
            }
        }
        catch (Exception e) when (e is IOException or SocketException or OperationCanceledException or ObjectDisposedException or InvalidDataException)
        {
            // The peer went away, sent a malformed frame, or the silo is stopping.
        }
    }

    /// <summary>Inline, no codec, no task: the cross-process raw TCP baseline of the benchmark.</summary>
    private async Task EchoRawAsync(Socket socket, SemaphoreSlim writeLock, DataPlaneFrames.FrameReader reader, DataPlaneFrames.FrameHead head)
    {
        var data = await reader.ReadDataAsync(head, _stop.Token);
        try
        {
            await writeLock.WaitAsync(_stop.Token);
            try
            {
                await DataPlaneFrames.WriteBytesAsync(socket, head.Id, DataPlaneFrames.RawEcho, data.AsMemory(0, head.DataLength), _stop.Token);
            }
            finally
            {
                writeLock.Release();
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(data);
        }
    }

    /// <summary>Inline: the inputs go back as the outputs, straight from the buffer they were received into.</summary>
    private async Task EchoAsync(Socket socket, SemaphoreSlim writeLock, DataPlaneFrames.FrameReader reader, DataPlaneFrames.FrameHead head)
    {
        var request = await reader.ReadRequestAsync(head, _stop.Token);
        try
        {
            await ReplyAsync(socket, writeLock, head.Id, new ExpertShardResponse(request.Inputs, 0));
        }
        finally
        {
            request.Inputs.ReturnBuffer();
        }
    }

    /// <summary>Reads a request and starts computing it without waiting, so one connection carries many at once.</summary>
    private async Task ReceiveRequestAsync(Socket socket, SemaphoreSlim writeLock, DataPlaneFrames.FrameReader reader, DataPlaneFrames.FrameHead head)
    {
        ExpertShardRequest request;
        ActivityContext trace;
        try
        {
            (request, trace) = await reader.ReadTracedRequestAsync(head, _stop.Token);
        }
        catch (InvalidDataException e)
        {
            // A frame that does not parse leaves the stream unsynchronised: answer it, then drop the connection.
            await ReplyAsync(socket, writeLock, head.Id, e.Message);
            throw;
        }
        _ = HandleAsync(socket, writeLock, head.Id, request, trace);
    }

    private async Task HandleAsync(Socket socket, SemaphoreSlim writeLock, ulong id, ExpertShardRequest request, ActivityContext trace)
    {
        object reply;
        // The sender's dispatch span is the parent: the shard's compute joins the request's trace across processes.
        using var activity = trace == default ? null : SiloTelemetry.Source.StartActivity("dataplane.serve", ActivityKind.Server, trace);
        activity?.SetTag("llama4.layer", request.Layer);
        activity?.SetTag("llama4.shard", request.Shard);
        try
        {
            var key = request.Key;
            if (!_registry.TryGet(key, out var runtime))
            {
                request.Inputs.ReturnBuffer();
                throw new InvalidOperationException($"expert shard '{key.Format()}' is not active on silo {_silo.SiloAddress}; resolve it again through Orleans");
            }
            reply = await runtime.ComputeAsync(request, _stop.Token);
            Interlocked.Increment(ref _requestsServed);
        }
        catch (Exception e)
        {
            reply = e.Message;
            activity?.SetStatus(ActivityStatusCode.Error, e.Message);
        }
        await ReplyAsync(socket, writeLock, id, reply);
        if (reply is ExpertShardResponse response) response.Outputs.ReturnBuffer();
    }

    private async Task ReplyAsync(Socket socket, SemaphoreSlim writeLock, ulong id, object reply)
    {
        try
        {
            await writeLock.WaitAsync(_stop.Token);
            try
            {
                if (reply is ExpertShardResponse response)
                    await DataPlaneFrames.WriteResponseAsync(socket, id, response, _stop.Token);
                else
                    await DataPlaneFrames.WriteErrorAsync(socket, id, (string)reply, _stop.Token);
            }
            finally
            {
                writeLock.Release();
            }
        }
        catch (Exception e) when (e is IOException or SocketException or OperationCanceledException or ObjectDisposedException)
        {
            // The requester is gone; its step has failed or timed out already.
        }
    }

    public void Dispose()
    {
        _stop.Cancel();
        lock (_sync) _listener?.Stop();
        _stop.Dispose();
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Data plane refused a connection from {Peer}: {Reason}; this silo speaks protocol version {Version}")]
    private partial void LogRefusedPeer(string peer, string reason, int version);

    [LoggerMessage(Level = LogLevel.Information, Message = "Tensor data plane at {Endpoint} (bound to {Bound}) for silo {Silo}")]
    private partial void LogListening(string endpoint, string bound, string silo);
}
