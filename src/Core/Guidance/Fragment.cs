namespace Llama4Cluster.Core.Guidance;

/// <summary>A piece of automaton under construction: enter at <see cref="Start"/>, leave from <see cref="End"/>
/// (Thompson's construction).</summary>
internal readonly record struct Fragment(int Start, int End);
