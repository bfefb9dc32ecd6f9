namespace Llama4Cluster.Kernels.Engine;

/// <summary>Why a sequence stopped: a stop token (<see cref="Stop"/>) or the token limit (<see cref="Length"/>).</summary>
public enum FinishReason
{
    Stop,
    Length,
}
