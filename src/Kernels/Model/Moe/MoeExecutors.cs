
namespace Llama4Cluster.Kernels.Model.Moe;

/// <summary>Which way a model's MoE layers run their experts locally; see <see cref="IMoeExecutor"/>.</summary>
public enum LocalMoeStrategy
{
    /// <summary>Fused when every MoE layer can be (bf16 weights on the CPU), grouped otherwise.</summary>
    Auto,

    /// <summary>Router → grouped experts → combine, in any dtype and on any device (the cluster's arithmetic).</summary>
    Grouped,
}

/// <summary>Chooses a model's <see cref="IMoeExecutor"/> once, at load, from where its experts are and how they are stored.</summary>
public static class MoeExecutors
{
    /// <summary>
    /// Experts reached through <paramref name="remote"/> (the cluster) dispatch there. Experts held in
    /// <paramref name="local"/> run fused when <paramref name="strategy"/> allows it and every MoE layer qualifies
    /// (<see cref="FusedLocalMoe.CanFuse"/>: bf16, CPU, contiguous, shared and routed experts of one width), grouped otherwise.
    /// </summary>
    public static IMoeExecutor Choose(IExpertDispatcher? remote, LocalExpertDispatcher? local, IReadOnlyList<(int Layer, MoeBlock Block)> layers,
        ModelOptions options)
    {
        if (remote is not null) return new DispatchingMoeExecutor(remote, ownsDispatcher: false);
        ArgumentNullException.ThrowIfNull(local);
        bool fused = options.LocalMoe == LocalMoeStrategy.Auto && KernelPolicy.For(options).StreamsBf16 && layers.Count > 0
            && layers.All(l => l.Block.SharedExpert is { } shared && FusedLocalMoe.CanFuse(local.Layer(l.Layer), shared));
        return fused ? new FusedLocalMoeExecutor(local, KernelPolicy.For(options).BatchInvariant) : new DispatchingMoeExecutor(local, ownsDispatcher: true);
    }
}
