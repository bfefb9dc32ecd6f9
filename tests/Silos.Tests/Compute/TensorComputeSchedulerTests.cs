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
    public async Task RunAndContinueHere_ContinuesOnTheComputeThread_WithoutAPoolHop()
    {
        using var scheduler = new TensorComputeScheduler(1, "l4c-test-inline");
        var (body, continuation) = await Task.Run(async () =>
        {
            // The body outlasts the caller's way to its await (a body already done when awaited continues on the caller).
            string inBody = await scheduler.RunAndContinueHereAsync(() =>
            {
                Thread.Sleep(200);
                return Thread.CurrentThread.Name ?? "";
            });
            return (inBody, Thread.CurrentThread.Name ?? "");
        });
        Assert.Equal("l4c-test-inline-0", body);
        Assert.Equal("l4c-test-inline-0", continuation); // RunAsync's caller would resume on a pool thread here

        var e = await Assert.ThrowsAsync<InvalidOperationException>(() => scheduler.RunAndContinueHereAsync<int>(() => throw new InvalidOperationException("boom")));
        Assert.Equal("boom", e.Message);
        using var cancelled = new CancellationTokenSource();
        cancelled.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => scheduler.RunAndContinueHereAsync(() => 1, cancelled.Token));
        Assert.Equal(2, await scheduler.RunAndContinueHereAsync(() => 2)); // the thread survived the failures
    }

    [Fact]
    public async Task AfterDisposal_RunningWorkFinishes_AndNewWorkIsRefused()
    {
        var scheduler = new TensorComputeScheduler(1);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var running = scheduler.RunAsync(async () =>
        {
            await release.Task; // as a connection loop waits on its socket
            return 7;
        });
        await Task.Delay(50);
        scheduler.Dispose();
        release.SetResult(); // the continuation comes back to a disposed scheduler: it must not take the process down
        Assert.Equal(7, await running.WaitAsync(TimeSpan.FromSeconds(10)));
        await Assert.ThrowsAsync<ObjectDisposedException>(() => scheduler.RunAsync(() => 1));
        await Assert.ThrowsAsync<ObjectDisposedException>(() => scheduler.RunAndContinueHereAsync(() => 1));
    }

    [Fact]
    public async Task ExceptionsReachTheCaller()
    {
        using var scheduler = new TensorComputeScheduler(1);
        var e = await Assert.ThrowsAsync<InvalidOperationException>(() => scheduler.RunAsync(new Func<int>(() => throw new InvalidOperationException("boom"))));
        Assert.Equal("boom", e.Message);
    }
}
