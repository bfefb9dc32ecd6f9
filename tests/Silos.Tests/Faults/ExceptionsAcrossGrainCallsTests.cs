using System.Net.Sockets;
using Llama4Cluster.Contracts.Experts;
using Llama4Cluster.Silos.DataPlane;
using Llama4Cluster.Silos.Experts;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Serialization;

namespace Llama4Cluster.Silos.Tests.Faults;

/// <summary>
/// Every exception a failing step can end with crosses a grain call intact: it is written and read back through Orleans'
/// serializer (as a grain's reply carries it), and the reader sees the same type and message — never a codec error in
/// its place.
/// </summary>
public sealed class ExceptionsAcrossGrainCallsTests
{
    private static readonly ServiceProvider Services = new ServiceCollection()
        .AddSerializer(b => b.AddAssembly(typeof(ExpertShardTimeoutException).Assembly)).BuildServiceProvider();

    public static TheoryData<Exception> StepFailures() => new()
    {
        new ExpertShardTimeoutException(3, 1, TimeSpan.FromSeconds(30), "replica 1 of layer 3 shard 1 did not answer within 2 s"),
        new DataPlaneException(new DataEndpoint("127.0.0.2", 4100), "the connection closed"),
        new SocketException((int)SocketError.ConnectionReset),
        new IOException("Unable to read data from the transport connection: Connection reset by peer."),
        new TimeoutException("replica 0 of layer 1 shard 0 did not answer within 2 s"),
        new InvalidOperationException("attention rank 1 is not loaded"),
        new ArgumentException("sequence 7 is unknown on rank 0"),
        new AggregateException(new IOException("reset")),
    };

    [Theory]
    [MemberData(nameof(StepFailures))]
    public void AStepFailureCrossesTheSerializerWithItsTypeAndMessage(Exception error)
    {
        var serializer = Services.GetRequiredService<Serializer>();
        Exception thrown;
        try
        {
            throw error;
        }
        catch (Exception e)
        {
            thrown = e;
        }

        var copy = serializer.Deserialize<Exception>(serializer.SerializeToArray(thrown))!;
        Assert.Equal(error.GetType(), copy.GetType());
        Assert.Equal(error.Message, copy.Message);
        if (error is ExpertShardTimeoutException t)
        {
            var c = Assert.IsType<ExpertShardTimeoutException>(copy);
            Assert.Equal((t.Layer, t.Shard, t.Timeout), (c.Layer, c.Shard, c.Timeout));
        }
    }
}
