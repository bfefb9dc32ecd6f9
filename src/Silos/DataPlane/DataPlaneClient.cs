using System.Collections.Concurrent;
using System.Net.Sockets;
using Llama4Cluster.Contracts.Experts;
using Orleans.Serialization;

namespace Llama4Cluster.Silos.DataPlane;

/// <summary>
/// The sending side of the data plane: one persistent TCP connection per remote endpoint, shared by every
/// dispatcher of this silo, with many requests in flight on it (replies matched by id). A broken connection fails its
/// pending requests and is replaced on next use.
/// </summary>
public sealed class DataPlaneClient : IDisposable
{
    /// <summary>How long a connection attempt may take: an advertised address that drops packets (a firewall, a wrong
    /// <c>--advertise</c>) would otherwise hold every dispatch to it for the operating system's connect timeout (minutes).</summary>
    public static readonly TimeSpan ConnectTimeout = TimeSpan.FromSeconds(10);

    private readonly ConcurrentDictionary<DataEndpoint, Lazy<Task<Connection>>> _connections = new();

    /// <param name="serializer">Kept for the DI signature: frames carry tensors as raw bytes and small fields in a fixed layout.</param>
    public DataPlaneClient(Serializer serializer) => ArgumentNullException.ThrowIfNull(serializer);

    public Task<ExpertShardResponse> ComputeAsync(DataEndpoint endpoint, ExpertShardRequest request, CancellationToken cancellationToken) =>
        SendAsync(endpoint, DataPlaneFrames.Request, request, cancellationToken);

    /// <summary>Sends <paramref name="request"/> to be returned as is (no compute): the transport's own cost, for benchmarks.</summary>
    public Task<ExpertShardResponse> EchoAsync(DataEndpoint endpoint, ExpertShardRequest request, CancellationToken cancellationToken) =>
        SendAsync(endpoint, DataPlaneFrames.Echo, request, cancellationToken);

    /// <summary>Sends bytes that come back untouched (no codec): the benchmark's cross-process raw TCP baseline. Returns the echoed length.</summary>
    public async Task<int> RawEchoAsync(DataEndpoint endpoint, ReadOnlyMemory<byte> body, CancellationToken cancellationToken)
    {
        var lazy = _connections.GetOrAdd(endpoint, ep => new Lazy<Task<Connection>>(() => Connection.OpenAsync(ep)));
        var connection = await lazy.Value.WaitAsync(cancellationToken);
        return await connection.RawEchoAsync(body, cancellationToken);
    }

    private async Task<ExpertShardResponse> SendAsync(DataEndpoint endpoint, byte kind, ExpertShardRequest request, CancellationToken cancellationToken)
    {
        var lazy = _connections.GetOrAdd(endpoint, ep => new Lazy<Task<Connection>>(() => Connection.OpenAsync(ep)));
        Connection connection;
        try
        {
            connection = await lazy.Value.WaitAsync(cancellationToken);
        }
        catch
        {
            _connections.TryRemove(new KeyValuePair<DataEndpoint, Lazy<Task<Connection>>>(endpoint, lazy));
            throw;
        }
        if (connection.IsBroken)
        {
            _connections.TryRemove(new KeyValuePair<DataEndpoint, Lazy<Task<Connection>>>(endpoint, lazy));
            return await SendAsync(endpoint, kind, request, cancellationToken);
        }
        return await connection.SendAsync(kind, request, cancellationToken);
    }

    public void Dispose()
    {
        foreach (var lazy in _connections.Values)
        {
            if (lazy.IsValueCreated && lazy.Value.IsCompletedSuccessfully) lazy.Value.Result.Dispose();
        }
        _connections.Clear();
    }

    private sealed class Connection : IDisposable
    {
        private readonly TcpClient _client;
        private readonly Socket _socket;
        private readonly DataEndpoint _endpoint;
        private readonly SemaphoreSlim _writeLock = new(1, 1);
        private readonly ConcurrentDictionary<ulong, TaskCompletionSource<ExpertShardResponse>> _pending = new();
        private readonly ConcurrentDictionary<ulong, TaskCompletionSource<int>> _rawPending = new();
        private long _nextId;
        private volatile bool _broken;

        private Connection(TcpClient client, DataEndpoint endpoint)
        {
            _client = client;
            _socket = client.Client;
            _endpoint = endpoint;
            _ = Task.Run(ReadAsync);
        }

        public bool IsBroken => _broken;

        public static async Task<Connection> OpenAsync(DataEndpoint endpoint)
        {
            var client = new TcpClient { NoDelay = true };
            try
            {
                await ConnectAsync(client, endpoint);
                await DataPlaneFrames.WritePreambleAsync(client.Client, CancellationToken.None);
                ushort? version;
                try
                {
                    version = await DataPlaneFrames.ReadPreambleAsync(client.Client, CancellationToken.None);
                }
                catch (Exception e) when (e is EndOfStreamException or OperationCanceledException or IOException or SocketException)
                {
                    throw new DataPlaneException(endpoint, $"no data-plane preamble from the peer ({e.Message})");
                }
                if (version is null)
                    throw new DataPlaneException(endpoint, "the peer is not a Llama4Cluster data plane (wrong preamble)");
                if (version != DataPlaneFrames.ProtocolVersion)
                    throw new DataPlaneException(endpoint, $"the peer speaks data-plane protocol version {version}, this silo speaks " +
                        $"{DataPlaneFrames.ProtocolVersion}: run the same build on every silo");
            }
            catch
            {
                client.Dispose();
                throw;
            }
            return new Connection(client, endpoint);
        }

        /// <summary>Connects, or fails with a message that names the silo and the address it advertised.</summary>
        private static async Task ConnectAsync(TcpClient client, DataEndpoint endpoint)
        {
            using var timeout = new CancellationTokenSource(ConnectTimeout);
            try
            {
                await client.ConnectAsync(endpoint.Host, endpoint.Port, timeout.Token);
            }
            catch (OperationCanceledException) when (timeout.IsCancellationRequested)
            {
                throw new DataPlaneException(endpoint, $"no answer to a connection attempt within {ConnectTimeout.TotalSeconds:F0} s: " +
                    "check that the silo's advertised address (--advertise) is reachable from this host and its data-plane port is open");
            }
            catch (SocketException e)
            {
                throw new DataPlaneException(endpoint, $"cannot connect ({e.SocketErrorCode}: {e.Message}): check that the silo's advertised " +
                    "address (--advertise) is reachable from this host and its data-plane port is open");
            }
        }

        public async Task<ExpertShardResponse> SendAsync(byte kind, ExpertShardRequest request, CancellationToken cancellationToken)
        {
            // The caller's span (a MoE layer's dispatch) travels in the frame: the shard's spans join its trace.
            var trace = System.Diagnostics.Activity.Current?.Context ?? default;
            ulong id = (ulong)Interlocked.Increment(ref _nextId);
            // Completed on the receive loop; continuations run there too (no hop per frame). Grain callers resume on their
            // activation's scheduler anyway; others must not block on another reply of this connection.
            var reply = new TaskCompletionSource<ExpertShardResponse>();
            _pending[id] = reply;
            using var registration = cancellationToken.Register(() =>
            {
                if (_pending.TryRemove(id, out var r)) r.TrySetCanceled(cancellationToken);
            });
            await _writeLock.WaitAsync(cancellationToken);
            try
            {
                if (_broken) throw new ObjectDisposedException($"data-plane connection to {_endpoint}");
                await DataPlaneFrames.WriteRequestAsync(_socket, id, kind, request, cancellationToken, trace);
            }
            catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException)
            {
                Fail(e);
                throw;
            }
            finally
            {
                _writeLock.Release();
            }
            return await reply.Task;
        }

        public async Task<int> RawEchoAsync(ReadOnlyMemory<byte> body, CancellationToken cancellationToken)
        {
            ulong id = (ulong)Interlocked.Increment(ref _nextId);
            var reply = new TaskCompletionSource<int>();
            _rawPending[id] = reply;
            await _writeLock.WaitAsync(cancellationToken);
            try
            {
                await DataPlaneFrames.WriteBytesAsync(_socket, id, DataPlaneFrames.RawEcho, body, cancellationToken);
            }
            catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException)
            {
                Fail(e);
                throw;
            }
            finally
            {
                _writeLock.Release();
            }
            return await reply.Task.WaitAsync(cancellationToken);
        }

        private async Task ReadAsync()
        {
            var reader = new DataPlaneFrames.FrameReader(_socket);
            try
            {
                while (await reader.ReadHeadAsync(CancellationToken.None) is { } head)
                {
                    switch (head.Kind)
                    {
                        case DataPlaneFrames.RawEcho:
                            await reader.SkipDataAsync(head, CancellationToken.None);
                            if (_rawPending.TryRemove(head.Id, out var raw)) raw.TrySetResult(head.DataLength);
                            break;
                        case DataPlaneFrames.Response:
                        {
                            var response = await reader.ReadResponseAsync(head, CancellationToken.None);
                            if (_pending.TryRemove(head.Id, out var reply)) reply.TrySetResult(response);
                            else response.Outputs.ReturnBuffer(); // timed out or cancelled already
                            break;
                        }
                        case DataPlaneFrames.Error:
                        {
                            string text = await reader.ReadTextAsync(head, CancellationToken.None);
                            if (_pending.TryRemove(head.Id, out var reply)) reply.TrySetException(new DataPlaneException(_endpoint, text));
                            else if (_rawPending.TryRemove(head.Id, out var rawFailed)) rawFailed.TrySetException(new DataPlaneException(_endpoint, text));
                            break;
                        }
                        default:
                            throw new InvalidDataException($"unexpected frame kind {head.Kind} from {_endpoint}");
                    }
                }
                Fail(new EndOfStreamException($"data-plane connection to {_endpoint} closed"));
            }
            catch (Exception e)
            {
                Fail(e);
            }
        }

        private void Fail(Exception e)
        {
            _broken = true;
            _client.Dispose(); // a half-read stream cannot be resynchronised; the next use opens a new connection
            foreach (var id in _rawPending.Keys)
            {
                if (_rawPending.TryRemove(id, out var r)) r.TrySetException(new DataPlaneException(_endpoint, $"connection failed: {e.Message}"));
            }
            foreach (var id in _pending.Keys)
            {
                if (_pending.TryRemove(id, out var r))
                    r.TrySetException(new DataPlaneException(_endpoint, $"connection failed: {e.Message}"));
            }
        }

        public void Dispose()
        {
            _broken = true;
            _client.Dispose();
        }
    }
}
