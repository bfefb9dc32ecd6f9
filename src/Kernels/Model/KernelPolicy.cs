using Llama4Cluster.Kernels.Cpu;
using TorchSharp;
using static TorchSharp.torch;

namespace Llama4Cluster.Kernels.Model;

/// <summary>
/// Which kernels a model's linear layers, experts and decode attention run on, decided once when the weights are loaded
/// (from where they live and how they are stored) rather than by predicates at every call. With bf16 weights on the
/// CPU, decode-sized shapes go to the AVX-512/AVX2 weight-streaming kernels (<see cref="Cpu"/>), which read weights at
/// ~0.7 of the memory bandwidth where libtorch's bf16 GEMV reads ~0.27 (docs/PERFORMANCE.md); everything else, and every
/// other dtype or device, is libtorch. Only the shape is looked at per call:
/// <list type="bullet">
/// <item>linear: at most <see cref="LinearRowLimit"/> rows. From ~4 rows on one matrix the kernel is arithmetic-bound
/// (.NET 10 exposes no AVX512-BF16 dot product: it widens and multiplies in fp32, ~110 G multiply-adds/s on two Zen 5
/// cores from 8 rows on, about half their fp32 FMA peak), but at 8 rows it still beats libtorch, whose oneDNN GEMM packs
/// the weights again on every call: a batch-8 decode step ran 1.25–1.33× as fast with the 8-row linears here; at 16 rows
/// the two were level within the noise and at 32 oneDNN was 1.3× faster (docs/PERFORMANCE.md);</item>
/// <item>routed experts: at most <see cref="Bf16MatMul.MaxDecodeBatch"/> rows per layer (one kernel call for every
/// expert of the layer keeps all threads busy; larger batches are GEMM-bound);</item>
/// <item>attention (CPU, fp32 or bf16 caches): one decode token that sees its whole cache (no mask) goes to the decode
/// kernel, which streams the cache where libtorch's bmm for one query row does not.</item>
/// </list>
/// </summary>
public sealed class KernelPolicy
{
    /// <summary>Most rows a linear layer sends to the streaming kernel.</summary>
    public const int LinearRowLimit = 8;

    private KernelPolicy(bool streamsBf16, bool decodeAttentionKernel, bool batchInvariant = false)
    {
        StreamsBf16 = streamsBf16;
        DecodeAttentionKernel = decodeAttentionKernel;
        BatchInvariant = batchInvariant;
    }

    /// <summary>libtorch for everything (weights off the CPU).</summary>
    public static KernelPolicy Torch { get; } = new(streamsBf16: false, decodeAttentionKernel: false);

    /// <summary>fp32 CPU weights: libtorch GEMMs, the decode-attention kernel.</summary>
    public static KernelPolicy Cpu { get; } = new(streamsBf16: false, decodeAttentionKernel: true);

    /// <summary>bf16 CPU weights: every streaming kernel where the shape suits it.</summary>
    public static KernelPolicy CpuBf16 { get; } = new(streamsBf16: true, decodeAttentionKernel: true);

    /// <summary>
    /// bf16 CPU weights, batch-invariant: every linear layer, router and routed expert runs the streaming kernel whatever its
    /// row count (its reduction order for a row is fixed: one accumulator per output over the input in order, whichever rows
    /// share the call), and attention runs every query row, prefill or decode, through the decode kernel over exactly the
    /// keys that row sees. Prefill then forgoes oneDNN's GEMMs (see docs/PERFORMANCE.md for what it costs).
    /// </summary>
    public static KernelPolicy CpuBf16Invariant { get; } = new(streamsBf16: true, decodeAttentionKernel: true, batchInvariant: true);

    /// <summary>Whether a row's result is independent of the rest of its batch and of prefill versus decode.</summary>
    public bool BatchInvariant { get; }

    /// <summary>Linear layers and routed experts stream bf16 weights (decode shapes).</summary>
    public bool StreamsBf16 { get; }

    /// <summary>Unmasked one-token attention goes to the CPU decode kernel.</summary>
    public bool DecodeAttentionKernel { get; }

    /// <summary>Prefill attention (more than one query row) goes to libtorch's fused scaled-dot-product attention instead of
    /// bmm, mask, softmax and bmm with the scores materialized in between (bf16 on the CPU, not batch-invariant).</summary>
    public bool FusedPrefillAttention => StreamsBf16 && !BatchInvariant;

    /// <summary>The policy for a model loaded with <paramref name="options"/> (its weights are in its compute dtype, on its device).</summary>
    /// <exception cref="ArgumentException">Batch invariance asked for off the CPU, where the kernels are libtorch's.</exception>
    public static KernelPolicy For(ModelOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.Device.type != DeviceType.CPU && options.BatchInvariant && options.ComputeDType == ScalarType.BFloat16)
            throw new ArgumentException($"batch-invariant bf16 runs on the CPU's kernels; on {options.Device} the kernels are libtorch's, " +
                "whose summation order follows the batch: leave --batch-invariant off there");
        if (options.Device.type != DeviceType.CPU) return Torch;
        if (options.ComputeDType != ScalarType.BFloat16) return Cpu;
        return options.BatchInvariant ? CpuBf16Invariant : CpuBf16;
    }

    /// <summary>The policy for weights held as <paramref name="weight"/> is: on the CPU, and bf16 and contiguous → streaming.</summary>
    public static KernelPolicy For(Tensor weight)
    {
        ArgumentNullException.ThrowIfNull(weight);
        if (weight.device_type != DeviceType.CPU) return Torch;
        return weight.dtype == ScalarType.BFloat16 && weight.is_contiguous() ? CpuBf16 : Cpu;
    }

    /// <summary><c>y = x·Wᵀ</c> (no bias) in x's dtype.</summary>
    public Tensor Linear(Tensor x, Tensor weight)
    {
        if (StreamsBf16) return Bf16Linear.Linear(x, weight, maxRows: BatchInvariant ? int.MaxValue : LinearRowLimit);
        if (x.dtype == weight.dtype) return nn.functional.linear(x, weight);
        using var scope = NewDisposeScope();
        return nn.functional.linear(x.to(weight.dtype), weight).to(x.dtype).MoveToOuterDisposeScope();
    }

    /// <summary>Whether a layer's <paramref name="rows"/> routed-expert rows run in one streaming-kernel call.</summary>
    public bool StreamsExperts(long rows) => StreamsBf16 && (BatchInvariant || rows <= Bf16MatMul.MaxDecodeBatch);

    /// <summary>Whether an attention call goes to the decode kernel: one query that sees its whole cache.</summary>
    public bool StreamsDecodeAttention(bool masked) => DecodeAttentionKernel && !masked;
}
