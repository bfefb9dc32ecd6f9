namespace Llama4Cluster.Kernels.Model.Moe;

/// <summary>
/// Which forward pass a dispatch belongs to: the engine step and, when a long step runs as several forward passes
/// (each under the message budget), the pass within it. Carried by <see cref="StepContext"/> to every MoE layer of the
/// pass and stamped on each remote request, so shards and observers can tell the passes apart. A value, not state on the
/// dispatcher: one dispatcher can serve overlapping passes without being told in between.
/// </summary>
public readonly record struct DispatchContext(long Step, int Pass);
