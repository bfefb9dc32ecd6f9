using Llama4Cluster.Contracts.Diagnostics;
using Llama4Cluster.Contracts.Tensors;

namespace Llama4Cluster.Silos.Diagnostics;

/// <summary>Echoes tensor payloads; no tensor work, so a round trip is pure messaging and the codec.</summary>
[GrainType("l4c-payload-echo")]
public sealed class PayloadEchoGrain : Grain, IPayloadEchoGrain
{
    public Task<TensorPayload> EchoAsync(TensorPayload payload) => Task.FromResult(payload);
}
