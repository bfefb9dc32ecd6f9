using Orleans.Serialization.Cloning;

namespace Llama4Cluster.Contracts.Tensors;

/// <summary>
/// <see cref="TensorPayload"/> is immutable, so a call between grains of one silo passes the same
/// instance: no copy of the activations.
/// </summary>
[RegisterCopier]
public sealed class TensorPayloadCopier : IDeepCopier<TensorPayload>
{
    public TensorPayload? DeepCopy(TensorPayload? input, CopyContext context) => input;
}
