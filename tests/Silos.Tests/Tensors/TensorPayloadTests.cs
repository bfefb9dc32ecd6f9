using Llama4Cluster.Contracts.Experts;
using Llama4Cluster.Contracts.Tensors;
using Llama4Cluster.Silos.Tensors;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Serialization;
using TorchSharp;

namespace Llama4Cluster.Silos.Tests.Tensors;

/// <summary>The tensor wire format: raw bytes through Orleans' serializer, pooled on read, torch round trips.</summary>
public sealed class TensorPayloadTests
{
    private static readonly ServiceProvider Services = new ServiceCollection().AddSerializer().BuildServiceProvider();

    [Fact]
    public void APayloadCrossesTheSerializerAsRawBytesWithAFixedSmallOverhead()
    {
        var serializer = Services.GetRequiredService<Serializer>();
        var data = Enumerable.Range(0, 6 * 64 * 4).Select(i => (byte)(i * 7)).ToArray();
        var payload = new TensorPayload(WireDType.Float32, [6, 64], data);
        var request = new ExpertShardRequest(3, 1, 0, 42, [4, 9], [2, 4], payload);

        byte[] wire = serializer.SerializeToArray(request);
        var back = serializer.Deserialize<ExpertShardRequest>(wire)!;

        Assert.Equal(WireDType.Float32, back.Inputs.DType);
        Assert.Equal([6L, 64L], back.Inputs.Shape);
        Assert.Equal(data, back.Inputs.Data.ToArray());
        Assert.True(back.Inputs.IsPooled);
        Assert.Equal([4, 9], back.ExpertIds.ToArray());
        // No per-element encoding: everything but the data is a few dozen bytes.
        Assert.InRange(wire.Length - data.Length, 1, 96);
        back.Inputs.ReturnBuffer();
        Assert.False(back.Inputs.IsPooled);
    }

    [Fact]
    public void LocalCallsShareTheImmutablePayload()
    {
        var copier = Services.GetRequiredService<DeepCopier>();
        var payload = new TensorPayload(WireDType.BFloat16, [2, 2], new byte[8]);
        var request = new ExpertShardRequest(0, 0, 0, 0, [0], [2], payload);
        Assert.Same(payload, copier.Copy(request)!.Inputs);
    }

    [Theory]
    [InlineData(WireDType.Float32)]
    [InlineData(WireDType.BFloat16)]
    public void TensorsRoundTripThroughTheWireDType(WireDType wire)
    {
        using var scope = torch.NewDisposeScope();
        var x = torch.randn([5, 48], generator: new torch.Generator(3));
        var payload = TensorPayloads.ToPayload(x, wire, pooled: true);
        Assert.Equal(5 * 48 * WireDTypes.ElementSize(wire), payload.Data.Length);
        var back = TensorPayloads.ToTensor(payload, torch.ScalarType.Float32, torch.CPU);
        payload.ReturnBuffer();
        var expected = x.to_type(TensorPayloads.ToScalarType(wire)).to_type(torch.ScalarType.Float32);
        Assert.True(back.allclose(expected, rtol: 0, atol: 0));
    }

    [Fact]
    public void APayloadRejectsDataThatDoesNotMatchItsShape()
    {
        var e = Assert.Throws<ArgumentException>(() => new TensorPayload(WireDType.BFloat16, [3, 4], new byte[23]));
        Assert.Contains("24 bytes", e.Message);
    }
}
