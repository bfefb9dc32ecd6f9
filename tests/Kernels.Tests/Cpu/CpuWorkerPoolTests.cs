using Llama4Cluster.Kernels.Cpu;

namespace Llama4Cluster.Kernels.Tests.Cpu;

/// <summary>A failing worker surfaces on the caller; the pool keeps working afterwards.</summary>
public sealed unsafe class CpuWorkerPoolTests
{
    private static void ThrowOnWorker(void* state, int worker)
    {
        Interlocked.Increment(ref *(int*)state);
        if (worker == 1) throw new ArithmeticException("worker 1 failed");
    }

    private static void Count(void* state, int worker) => Interlocked.Increment(ref *(int*)state);

    [Fact]
    public void WorkerExceptionIsRethrownOnTheCallerAndThePoolStaysUsable()
    {
        using var pool = new CpuWorkerPool(2);
        int* calls = (int*)System.Runtime.InteropServices.NativeMemory.AllocZeroed(sizeof(int));
        try
        {
            var e = Assert.Throws<InvalidOperationException>(() => pool.Run(&ThrowOnWorker, calls));
            Assert.IsType<ArithmeticException>(e.InnerException);
            Assert.Equal(2, *calls);

            *calls = 0;
            pool.Run(&Count, calls);
            Assert.Equal(2, *calls);
        }
        finally
        {
            System.Runtime.InteropServices.NativeMemory.Free(calls);
        }
    }
}
