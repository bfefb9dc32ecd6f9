using Llama4Cluster.Contracts.Tensors;

namespace Llama4Cluster.Contracts.Diagnostics;

/// <summary>Returns the payload it receives: measures Orleans messaging for tensor payloads (the data-plane benchmark).</summary>
[Alias("l4c.IPayloadEchoGrain")]
public interface IPayloadEchoGrain : IGrainWithIntegerKey
{
    [Alias("Echo")]
    Task<TensorPayload> EchoAsync(TensorPayload payload);
}
