namespace Llama4Cluster.Core.Generation;

/// <summary>Why a sequence stopped: a stop token (<see cref="Stop"/>) or the token limit (<see cref="Length"/>).</summary>
public enum FinishReason
{
    Stop,
    Length,
}
