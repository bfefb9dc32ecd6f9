using Llama4Cluster.Kernels.Cpu;
using TorchSharp;
using static TorchSharp.torch;

namespace Llama4Cluster.Kernels.Model.Moe;

/// <summary>
/// The decode fast path of a MoE layer whose experts are all in this process with bf16 CPU weights:
/// routing decided on the CPU, then ONE streaming-kernel call runs the shared expert and every
/// selected routed expert (the router weight scaling each expert's input, spec §2.6), all threads
/// busy. It replaces ~25 small torch ops (topk, sort, gathers, scatter-add) whose fixed cost is a
/// large share of a decode step. Same math as Prepare → dispatch → Combine; the summation order
/// differs only by rounding, and it applies only in bf16, where bit-equality is not claimed.
/// </summary>
internal static class FusedLocalMoe
{
    /// <summary>Whether one layer's weights suit the kernel: bf16, CPU, contiguous, shared and routed experts of one width.
    /// Decided once at load (<see cref="MoeExecutors.Choose"/>); the activations then are bf16 on the CPU too.</summary>
    public static bool CanFuse(GroupedExperts experts, SwiGluMlp shared) =>
        experts.Streamable && shared.GateUp.dtype == ScalarType.BFloat16 && shared.GateUp.device_type == DeviceType.CPU
        && shared.GateUp.is_contiguous() && shared.Down.is_contiguous() && shared.Down.shape[1] == experts.Intermediate;

    public static unsafe Tensor Forward(Tensor x, Router router, GroupedExperts experts, SwiGluMlp shared)
    {
        int t = (int)x.shape[0], d = (int)x.shape[1], k = router.TopK;
        var (ids, weights) = router.RouteOnCpu(x, x.dtype);

        // Group (token, weight) pairs by expert, ascending expert id.
        var byExpert = new SortedDictionary<int, (List<int> Tokens, List<float> Scales)>();
        for (int i = 0; i < ids.Length; i++)
        {
            if (!byExpert.TryGetValue(ids[i], out var group))
                byExpert[ids[i]] = group = (new List<int>(), new List<float>());
            group.Tokens.Add(i / k);
            group.Scales.Add(weights[i]);
        }
        var assignments = new Bf16ExpertAssignment[byExpert.Count + 1];
        int a = 0;
        foreach (var (expert, group) in byExpert)
            assignments[a++] = new Bf16ExpertAssignment(experts.StreamingWeights(expert), group.Tokens.ToArray(), group.Scales.ToArray());
        var sharedWeights = new Bf16ExpertWeights(TensorData.Pointer(shared.GateUp), TensorData.Pointer(shared.Down), d, experts.Intermediate);
        assignments[a] = new Bf16ExpertAssignment(sharedWeights, Enumerable.Range(0, t).ToArray());

        using var scope = NewDisposeScope();
        var x32 = x.to_type(ScalarType.Float32).contiguous();
        var y = torch.empty([t, d], dtype: ScalarType.Float32);
        Bf16SwiGlu.ForwardMany(new ReadOnlySpan<float>((void*)TensorData.Pointer(x32), t * d), t, assignments,
            new Span<float>((void*)TensorData.Pointer(y), t * d), accumulate: false);
        return y.to_type(x.dtype).DetachFromDisposeScope();
    }
}
