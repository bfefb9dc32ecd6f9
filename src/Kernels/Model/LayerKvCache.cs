using TorchSharp;
using static TorchSharp.torch;

namespace Llama4Cluster.Kernels.Model;

/// <summary>
/// One layer's keys and values for one sequence: k after RoPE and QK norm, v raw (spec §2.3).
/// Owns its storage (detached from every dispose scope). A chunked (RoPE) layer drops the
/// previous chunk once the next query position starts a new one, so it never holds more than
/// <c>C − 1</c> entries between steps; a global (NoPE) layer keeps everything.
/// </summary>
/// <remarks>
/// Stored head-major, <c>[KV, capacity, hd]</c>, and handed out as <c>[m, KV, hd]</c> views: a decode step reads every
/// live key of one kv head against the query heads that share it, and with this layout those keys are one sequential
/// stream. With <c>[capacity, KV, hd]</c> they were 256-byte pieces 2 KiB apart (8 kv heads of 128), which the hardware
/// prefetchers follow badly: the CPU decode kernel read that layout at about two thirds of the rate it reads this one
/// (<c>bench kernels</c>, 8k context). Appending writes n rows into each head's stream.
/// </remarks>
public sealed class LayerKvCache : IDisposable
{
    private readonly int? _chunk;
    private readonly int _kvHeads;
    private readonly int _headDim;
    private readonly ScalarType _dtype;
    private readonly Device _device;
    private Tensor? _keys;   // [KV, capacity, hd]
    private Tensor? _values; // [KV, capacity, hd]
    private int _count;

    public LayerKvCache(int? chunk, int kvHeads, int headDim, ScalarType dtype, Device device)
    {
        _chunk = chunk;
        _kvHeads = kvHeads;
        _headDim = headDim;
        _dtype = dtype;
        _device = device;
    }

    /// <summary>Absolute position of the first live entry.</summary>
    public long StartPosition { get; private set; }

    /// <summary>Live entries.</summary>
    public int Count => _count;

    public long Capacity => _keys?.shape[1] ?? 0;

    /// <summary>Bytes of the allocated storage.</summary>
    public long AllocatedBytes => 2 * Capacity * _kvHeads * _headDim * (_dtype == ScalarType.Float32 ? 4 : 2);

    /// <summary>
    /// Appends n new entries for positions <c>StartPosition + Count …</c> and returns views of all
    /// live entries <c>[m, KV, hd]</c>, valid until the next call. The caller keeps the views in a scope.
    /// </summary>
    public (Tensor Keys, Tensor Values) Append(Tensor k, Tensor v)
    {
        int n = (int)k.shape[0];
        EnsureCapacity(_count + n);
        Live(_keys!, _count, n).copy_(k);
        Live(_values!, _count, n).copy_(v);
        _count += n;
        return (Live(_keys!, 0, _count), Live(_values!, 0, _count));
    }

    /// <summary>Views <c>[count, KV, hd]</c> of the keys and values at absolute positions <paramref name="position"/>…,
    /// which must be live.</summary>
    public (Tensor Keys, Tensor Values) Rows(long position, int count)
    {
        if (position < StartPosition || position + count > StartPosition + _count)
            throw new ArgumentOutOfRangeException(nameof(position),
                $"positions {position}..{position + count - 1} are not live (live: {StartPosition}..{StartPosition + _count - 1})");
        long at = position - StartPosition;
        return (Live(_keys!, at, count), Live(_values!, at, count));
    }

    /// <summary>Drops entries that no query at or after <paramref name="nextPosition"/> can see.</summary>
    public void Trim(long nextPosition)
    {
        if (_chunk is not { } c || _count == 0) return;
        long keepFrom = nextPosition / c * c;
        int drop = (int)Math.Clamp(keepFrom - StartPosition, 0, _count);
        if (drop == 0) return;
        int keep = _count - drop;
        if (keep > 0)
        {
            using var scope = NewDisposeScope();
            // Overlapping ranges: copy through a temporary.
            var k = _keys!.narrow(1, drop, keep).clone();
            var v = _values!.narrow(1, drop, keep).clone();
            _keys.narrow(1, 0, keep).copy_(k);
            _values!.narrow(1, 0, keep).copy_(v);
        }
        _count = keep;
        StartPosition += drop;
    }

    private void EnsureCapacity(int needed)
    {
        if (_keys is not null && _keys.shape[1] >= needed) return;
        long capacity = Math.Max(needed, Math.Max(16, 2 * Capacity));
        if (_chunk is { } c && needed <= c) capacity = Math.Min(capacity, c);
        capacity = Math.Max(capacity, needed);
        var keys = torch.empty([_kvHeads, capacity, _headDim], dtype: _dtype, device: _device);
        var values = torch.empty([_kvHeads, capacity, _headDim], dtype: _dtype, device: _device);
        keys.DetachFromDisposeScope();
        values.DetachFromDisposeScope();
        if (_count > 0)
        {
            keys.narrow(1, 0, _count).copy_(_keys!.narrow(1, 0, _count));
            values.narrow(1, 0, _count).copy_(_values!.narrow(1, 0, _count));
        }
        _keys?.Dispose();
        _values?.Dispose();
        _keys = keys;
        _values = values;
    }

    /// <summary>Rows <c>[at, at + count)</c> of head-major storage as a <c>[count, KV, hd]</c> view.</summary>
    private static Tensor Live(Tensor storage, long at, long count) => storage.narrow(1, at, count).permute(1, 0, 2);

    public void Dispose()
    {
        _keys?.Dispose();
        _values?.Dispose();
        _keys = _values = null;
        _count = 0;
    }
}
