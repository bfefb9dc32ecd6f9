using System.Runtime.InteropServices;
using Llama4Cluster.Kernels.Cpu;

namespace Llama4Cluster.Kernels.Tests.Cpu;

/// <summary>
/// A failing worker surfaces on the caller and the pool keeps working; a job's units are each done exactly once whether
/// the workers join it, join it late, or find it already closed (the caller does not wait for a worker that is asleep).
/// </summary>
public sealed unsafe class CpuWorkerPoolTests
{
    /// <summary>Counts entries; the caller's share waits (bounded) until worker 1 has joined, which then throws.</summary>
    private static void ThrowOnWorker(void* state, int worker)
    {
        int* entered = (int*)state;
        Interlocked.Increment(ref *entered);
        if (worker == 1) throw new ArithmeticException("worker 1 failed");
        long deadline = Environment.TickCount64 + 30_000;
        while (Volatile.Read(ref *entered) < 2 && Environment.TickCount64 < deadline) Thread.SpinWait(64);
    }

    private struct UnitJob
    {
        public int Next;
        public int Units;
        public int* Done;
    }

    /// <summary>Takes units from an atomic counter, as the kernels do, and counts each unit done.</summary>
    private static void DoUnits(void* state, int worker)
    {
        var job = (UnitJob*)state;
        while (true)
        {
            int unit = Interlocked.Increment(ref job->Next) - 1;
            if (unit >= job->Units) return;
            Interlocked.Increment(ref job->Done[unit]);
        }
    }

    [Fact]
    public void WorkerExceptionIsRethrownOnTheCallerAndThePoolStaysUsable()
    {
        using var pool = new CpuWorkerPool(2);
        int* entered = (int*)NativeMemory.AllocZeroed(sizeof(int));
        try
        {
            var e = Assert.Throws<InvalidOperationException>(() => pool.Run(&ThrowOnWorker, entered));
            Assert.IsType<ArithmeticException>(e.InnerException);
            Assert.Equal(2, *entered);
            AssertEveryUnitOnce(pool, calls: 50, units: 16);
        }
        finally
        {
            NativeMemory.Free(entered);
        }
    }

    /// <summary>Thousands of short jobs back to back, with workers that spin between jobs and with workers that sleep at
    /// once (so they mostly wake after the caller closed the job, or join a later one than they woke for).</summary>
    [Theory]
    [InlineData(2, 50)]
    [InlineData(2, 0)]
    [InlineData(3, 0)]
    public void EveryUnitRunsExactlyOnceHoweverLateWorkersArrive(int threads, int spinMicroseconds)
    {
        using var pool = new CpuWorkerPool(threads) { SpinMicroseconds = spinMicroseconds };
        AssertEveryUnitOnce(pool, calls: 3000, units: 8);
        AssertEveryUnitOnce(pool, calls: 200, units: 4096);
    }

    private static void AssertEveryUnitOnce(CpuWorkerPool pool, int calls, int units)
    {
        int* done = (int*)NativeMemory.AllocZeroed((nuint)(units * sizeof(int)));
        try
        {
            for (int c = 0; c < calls; c++)
            {
                var job = new UnitJob { Units = units, Done = done };
                pool.Run(&DoUnits, &job);
                // Every unit done, once, by the time the call returned (no worker still inside it).
                for (int u = 0; u < units; u++)
                    if (done[u] != c + 1) Assert.Fail($"call {c}: unit {u} done {done[u]} times, expected {c + 1}");
            }
        }
        finally
        {
            NativeMemory.Free(done);
        }
    }
}
