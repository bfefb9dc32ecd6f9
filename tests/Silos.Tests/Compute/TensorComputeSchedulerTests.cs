using Llama4Cluster.Silos.Compute;

namespace Llama4Cluster.Silos.Tests.Compute;

public sealed class TensorComputeSchedulerTests
{
    [Fact]
    public async Task WorkAndItsContinuationsRunOnTheDedicatedThreads()
    {
        using var scheduler = new TensorComputeScheduler(1, "l4c-test-compute");
        var names = await scheduler.RunAsync(async () =>
        {
            string before = Thread.CurrentThread.Name ?? "";
            await Task.Delay(10);
            await Task.Yield();
            return (before, after: Thread.CurrentThread.Name ?? "");
        });
        Assert.Equal("l4c-test-compute-0", names.before);
        Assert.Equal("l4c-test-compute-0", names.after);
        Assert.Equal("l4c-test-compute-0", await scheduler.RunAsync(() => Thread.CurrentThread.Name ?? ""));
    }

    [Fact]
    public async Task ExceptionsReachTheCaller()
    {
        using var scheduler = new TensorComputeScheduler(1);
        var e = await Assert.ThrowsAsync<InvalidOperationException>(() => scheduler.RunAsync(new Func<int>(() => throw new InvalidOperationException("boom"))));
        Assert.Equal("boom", e.Message);
    }
}
