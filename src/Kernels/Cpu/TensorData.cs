using System.Buffers;
using System.Runtime.InteropServices;
using TorchSharp;

namespace Llama4Cluster.Kernels.Cpu;

/// <summary>
/// Raw data pointers of TorchSharp tensors. TorchSharp 0.107 exposes no public <c>data_ptr()</c>
/// (<c>Tensor.bytes</c> is a <c>Span</c>, limited to 2 GiB; <c>data&lt;T&gt;()</c> hides its pointer),
/// so this calls the native export TorchSharp itself uses, <c>THSTensor_data</c>, which returns
/// libtorch's <c>tensor.data_ptr()</c> (storage offset included).
/// </summary>
internal static partial class TensorData
{
    /// <summary>The address of element 0; the caller keeps <paramref name="tensor"/> alive.</summary>
    public static nint Pointer(torch.Tensor tensor)
    {
        nint p = THSTensor_data(tensor.Handle);
        if (p == 0 && tensor.NumberOfElements > 0)
        {
            throw new InvalidOperationException("libtorch returned no data pointer for a non-empty tensor.");
        }

        return p;
    }

    /// <summary>The elements of a float32 tensor as a new array, in row-major order, copied in one piece from a
    /// contiguous CPU tensor (others go through libtorch first).</summary>
    public static float[] ToFloatArray(torch.Tensor tensor) => CopyFloats(tensor, null, out _);

    /// <summary>
    /// The elements of a float32 tensor in an array rented from <paramref name="pool"/> (at least <paramref name="count"/>
    /// long; give it back when done). A decode step's logits row is 128 KB for a 32,000-token vocabulary and 800 KB for
    /// Llama 4's: allocated fresh every step, such arrays land on the large-object heap and bring full collections.
    /// </summary>
    public static float[] RentFloats(torch.Tensor tensor, ArrayPool<float> pool, out int count)
    {
        ArgumentNullException.ThrowIfNull(pool);
        return CopyFloats(tensor, pool, out count);
    }

    private static unsafe float[] CopyFloats(torch.Tensor tensor, ArrayPool<float>? pool, out int count)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        if (tensor.dtype != torch.float32) throw new ArgumentException($"expected a float32 tensor, got {tensor.dtype}", nameof(tensor));
        using var scope = torch.NewDisposeScope();
        var t = tensor.device_type == DeviceType.CPU && tensor.is_contiguous() ? tensor : tensor.cpu().contiguous();
        count = checked((int)t.NumberOfElements);
        var result = pool?.Rent(count) ?? (count == 0 ? [] : GC.AllocateUninitializedArray<float>(count));
        if (count > 0) new ReadOnlySpan<float>((void*)Pointer(t), count).CopyTo(result);
        GC.KeepAlive(t);
        return result;
    }

    [LibraryImport("LibTorchSharp")]
    private static partial nint THSTensor_data(nint handle);
}
