using System.Buffers;
using Llama4Cluster.Contracts.Tensors;
using TorchSharp;
using static TorchSharp.torch;

namespace Llama4Cluster.Silos.Tensors;

/// <summary>
/// Torch tensors to and from <see cref="TensorPayload"/>: one contiguous byte copy each way. Synchronous,
/// with their own dispose scopes, so they can sit between awaits.
/// </summary>
public static class TensorPayloads
{
    public static ScalarType ToScalarType(WireDType dtype) => dtype switch
    {
        WireDType.Float32 => ScalarType.Float32,
        WireDType.BFloat16 => ScalarType.BFloat16,
        WireDType.Float16 => ScalarType.Float16,
        WireDType.Int64 => ScalarType.Int64,
        WireDType.Int32 => ScalarType.Int32,
        _ => throw new ArgumentOutOfRangeException(nameof(dtype), dtype, "unknown wire dtype"),
    };

    /// <summary>
    /// Copies <paramref name="tensor"/>, cast to <paramref name="wire"/>, into a new payload. With
    /// <paramref name="pooled"/> the bytes go into an <see cref="ArrayPool{T}"/> buffer that the caller returns
    /// (<see cref="TensorPayload.ReturnBuffer"/>) once the call carrying it has completed.
    /// </summary>
    public static TensorPayload ToPayload(Tensor tensor, WireDType wire, bool pooled = false)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        using var scope = NewDisposeScope();
        var cpu = tensor.to_type(ToScalarType(wire)).cpu().contiguous();
        var source = cpu.bytes;
        byte[] buffer = pooled ? ArrayPool<byte>.Shared.Rent(source.Length) : new byte[source.Length];
        source.CopyTo(buffer);
        var memory = buffer.AsMemory(0, source.Length);
        return pooled ? TensorPayload.FromPooledBuffer(wire, cpu.shape, buffer, source.Length) : new TensorPayload(wire, cpu.shape, memory);
    }

    /// <summary>A new tensor of <paramref name="dtype"/> on <paramref name="device"/> holding the payload's values. The caller owns it
    /// (it belongs to the caller's dispose scope, if any).</summary>
    public static Tensor ToTensor(TensorPayload payload, ScalarType dtype, Device device)
    {
        ArgumentNullException.ThrowIfNull(payload);
        using var scope = NewDisposeScope();
        var cpu = torch.empty(payload.Shape.ToArray(), ToScalarType(payload.DType), CPU);
        if (payload.Data.Length > 0) payload.Data.Span.CopyTo(cpu.bytes);
        return cpu.to(dtype, device).MoveToOuterDisposeScope();
    }
}
