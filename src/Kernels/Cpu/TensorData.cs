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

    [LibraryImport("LibTorchSharp")]
    private static partial nint THSTensor_data(nint handle);
}
