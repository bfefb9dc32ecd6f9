using TorchSharp;
using static TorchSharp.torch;

namespace Llama4Cluster.Kernels.Runtime;

/// <summary>
/// The tensor ops that take a number (or an implied <c>alpha = 1</c>), each with its TorchSharp <see cref="Scalar"/>s
/// created, held and disposed here, around one synchronous native call. The TorchSharp overloads they replace are
/// banned in this repository (<c>build/BannedSymbols.txt</c>).
/// </summary>
/// <remarks>
/// Why (issue 10: "Expected false to be true … Exception raised from toFloat at c10/core/Scalar.h:140" in
/// <c>at::add</c> under load): TorchSharp 0.107 hands libtorch a Scalar's raw handle (an <c>IntPtr</c>) and keeps no
/// reference to the managed <see cref="Scalar"/> during the call. A Scalar made by an implicit conversion
/// (<c>x.mul_(0.5)</c>) — or the <c>alpha = 1</c> that <c>Tensor.add(Tensor)</c>, <c>add_(Tensor)</c>,
/// <c>add(Scalar)</c> and <c>torch.arange(start, stop)</c> make inside TorchSharp — is garbage once its handle is read.
/// A collection started by any thread can then queue it for finalization, and its finalizer deletes the native
/// <c>c10::Scalar</c> while libtorch still reads it: the freed block's first word (the Scalar's tag) is overwritten by
/// the allocator, and <c>toFloat</c> fails on the unknown tag (or reads a wrong value). Dispose scopes do not track
/// Scalars, so a scope does not help. Here a <c>using</c> keeps each Scalar reachable until the call has returned,
/// then frees it at once (no finalizer). Thread-safe: nothing is shared between calls.
/// </remarks>
public static class ScalarOps
{
    /// <summary><c>x + y</c> (torch's <c>add</c> with <c>alpha = 1</c>).</summary>
    public static Tensor Add(this Tensor x, Tensor y)
    {
        using var one = 1.ToScalar();
        return x.add(y, one);
    }

    /// <summary><c>x += y</c>; returns x.</summary>
    public static Tensor AddInPlace(this Tensor x, Tensor y)
    {
        using var one = 1.ToScalar();
        return x.add_(y, one);
    }

    /// <summary><c>x + value</c>.</summary>
    public static Tensor Add(this Tensor x, double value)
    {
        using var v = value.ToScalar();
        using var one = 1.ToScalar();
        return x.add(v, one);
    }

    /// <summary><c>x += value</c>; returns x.</summary>
    public static Tensor AddInPlace(this Tensor x, double value)
    {
        using var v = value.ToScalar();
        using var one = 1.ToScalar();
        return x.add_(v, one);
    }

    /// <summary><c>x *= value</c>; returns x.</summary>
    public static Tensor MulInPlace(this Tensor x, double value)
    {
        using var v = value.ToScalar();
        return x.mul_(v);
    }

    /// <summary><c>x /= value</c>; returns x.</summary>
    public static Tensor DivInPlace(this Tensor x, double value)
    {
        using var v = value.ToScalar();
        return x.div_(v);
    }

    /// <summary><c>floor(x / divisor)</c> (torch's <c>div(divisor, rounding_mode: floor)</c>).</summary>
    public static Tensor FloorDiv(this Tensor x, long divisor)
    {
        using var d = divisor.ToScalar();
        return x.div(d, RoundingMode.floor);
    }

    /// <summary>Sets x to <paramref name="value"/> where <paramref name="mask"/> is true; returns x.</summary>
    public static Tensor MaskedFillInPlace(this Tensor x, Tensor mask, double value)
    {
        using var v = value.ToScalar();
        return x.masked_fill_(mask, v);
    }

    /// <summary>Adds the rows of <paramref name="source"/> into x at <paramref name="index"/> along <paramref name="dim"/>; returns x.</summary>
    public static Tensor IndexAddInPlace(this Tensor x, long dim, Tensor index, Tensor source)
    {
        using var one = 1.0.ToScalar();
        return x.index_add_(dim, index, source, one);
    }

    /// <summary><c>start, start + 1, …, stop − 1</c>.</summary>
    public static Tensor Arange(long start, long stop, ScalarType dtype, Device device)
    {
        using var first = start.ToScalar();
        using var end = stop.ToScalar();
        using var step = 1L.ToScalar();
        return torch.arange(first, end, step, dtype, device);
    }
}
