using System.Buffers;
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
    private readonly Serializer _serializer;
    private readonly ConcurrentDictionary<DataEndpoint, Lazy<Task<Connection>>> _connections = new();

    public DataPlaneClient(Serializer serializer) => _serializer = serializer;

    public Task<ExpertShardResponse> ComputeAsync(DataEndpoint endpoint, ExpertShardRequest request, CancellationToken cancellationToken) =>
        SendAsync(endpoint, DataPlaneFrames.Request, request, cancellationToken);

    /// <summary>Sends <paramref name="request"/> to be returned as is (no compute): the transport's own cost, for benchmarks.</summary>
    public Task<ExpertShardResponse> EchoAsync(DataEndpoint endpoint, ExpertShardRequest request, CancellationToken cancellationToken) =>
        SendAsync(endpoint, DataPlaneFrames.Echo, request, cancellationToken);

    /// <summary>Sends bytes that come back untouched (no codec): the benchmark's cross-process raw TCP baseline. Returns the echoed length.</summary>
    public async Task<int> RawEchoAsync(DataEndpoint endpoint, ReadOnlyMemory<byte> body, CancellationToken cancellationToken)
    {
        var lazy = _connections.GetOrAdd(endpoint, ep => new Lazy<Task<Connection>>(() => Connection.OpenAsync(ep, _serializer)));
        var connection = await lazy.Value.WaitAsync(cancellationToken);
        return await connection.RawEchoAsync(body, cancellationToken);
    }

    private async Task<ExpertShardResponse> SendAsync(DataEndpoint endpoint, byte kind, ExpertShardRequest request, CancellationToken cancellationToken)
    {
        var lazy = _connections.GetOrAdd(endpoint, ep => new Lazy<Task<Connection>>(() => Connection.OpenAsync(ep, _serializer)));
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
        private readonly NetworkStream _stream;
        private readonly Serializer _serializer;
        private readonly DataEndpoint _endpoint;
        private readonly SemaphoreSlim _writeLock = new(1, 1);
        private readonly ArrayBufferWriter<byte> _scratch = new(64 << 10);
        private readonly ConcurrentDictionary<ulong, TaskCompletionSource<ExpertShardResponse>> _pending = new();
        private readonly ConcurrentDictionary<ulong, TaskCompletionSource<int>> _rawPending = new();
        private readonly byte[] _rawHeader = new byte[DataPlaneFrames.HeaderLength];
        private long _nextId;
        private volatile bool _broken;

        private Connection(TcpClient client, DataEndpoint endpoint, Serializer serializer)
        {
            _client = client;
            _stream = client.GetStream();
            _endpoint = endpoint;
            _serializer = serializer;
            _ = Task.Run(ReadAsync);
        }

        public bool IsBroken => _broken;

        public static async Task<Connection> OpenAsync(DataEndpoint endpoint, Serializer serializer)
        {
            var client = new TcpClient { NoDelay = true };
            try
            {
                await client.ConnectAsync(endpoint.Host, endpoint.Port);
            }
            catch
            {
                client.Dispose();
                throw;
            }
            return new Connection(client, endpoint, serializer);
        }

        public async Task<ExpertShardResponse> SendAsync(byte kind, ExpertShardRequest request, CancellationToken cancellationToken)
        {
            ulong id = (ulong)Interlocked.Increment(ref _nextId);
            var reply = new TaskCompletionSource<ExpertShardResponse>(TaskCreationOptions.RunContinuationsAsynchronously);
            _pending[id] = reply;
            using var registration = cancellationToken.Register(() =>
            {
                if (_pending.TryRemove(id, out var r)) r.TrySetCanceled(cancellationToken);
            });
            await _writeLock.WaitAsync(cancellationToken);
            try
            {
                await DataPlaneFrames.WriteAsync(_stream, _serializer, _scratch, id, kind, request, cancellationToken);
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
            var reply = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
            _rawPending[id] = reply;
            await _writeLock.WaitAsync(cancellationToken);
            try
            {
                await DataPlaneFrames.WriteRawAsync(_stream, _rawHeader, id, DataPlaneFrames.RawEcho, body, cancellationToken);
            }
            finally
            {
                _writeLock.Release();
            }
            return await reply.Task.WaitAsync(cancellationToken);
        }

        private async Task ReadAsync()
        {
            var header = new byte[DataPlaneFrames.HeaderLength];
            try
            {
                while (await DataPlaneFrames.ReadAsync(_stream, header, CancellationToken.None) is { } frame)
                {
                    try
                    {
                        if (_rawPending.TryRemove(frame.Id, out var raw))
                        {
                            raw.TrySetResult(frame.Length);
                            continue;
                        }
                        if (!_pending.TryRemove(frame.Id, out var reply)) continue; // timed out or cancelled already
                        if (frame.Kind == DataPlaneFrames.Response)
                            reply.TrySetResult(_serializer.Deserialize<ExpertShardResponse>(frame.Memory)
                                ?? throw new InvalidDataException($"empty reply from {_endpoint}"));
                        else
                            reply.TrySetException(new DataPlaneException(_endpoint, frame.Text));
                    }
                    finally
                    {
                        frame.Return();
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
