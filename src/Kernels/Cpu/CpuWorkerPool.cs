using System.Diagnostics;

namespace Llama4Cluster.Kernels.Cpu;

/// <summary>
/// A small persistent pool of worker threads for the CPU decode kernels. The calling thread
/// takes part as worker 0, so a pool of N threads starts N - 1 background threads.
/// </summary>
/// <remarks>
/// A call hands the workers a function pointer and a pointer to a job that lives on the
/// caller's stack; the call returns only after every worker that joined the job has left it, so
/// nothing is allocated per call. Workers spin for <see cref="SpinMicroseconds"/> after a job (decode
/// issues calls back to back) and then block, so an idle pool costs no CPU. A blocked worker may take
/// longer to wake than the whole job takes (100–200 µs on these VMs, against a few µs for one decode
/// token's attention at short context), so the caller does not wait for workers that have not joined:
/// once its own share is done it closes the job, and a worker arriving later finds it closed and goes
/// back to waiting. Jobs share their work through atomic counters, so the result is the same whoever
/// takes part. Calls from several threads are serialized; a call made from inside a job (one of this
/// pool's threads) runs inline.
/// </remarks>
public sealed unsafe class CpuWorkerPool : IDisposable
{
    private static int s_sharedThreads = Environment.ProcessorCount;

    private static readonly Lazy<CpuWorkerPool> SharedPool =
        new(() => new CpuWorkerPool(s_sharedThreads), LazyThreadSafetyMode.ExecutionAndPublication);

    [ThreadStatic]
    private static CpuWorkerPool? t_currentPool;

    private readonly Thread[] _threads;
    private readonly object _callGate = new();
    private readonly object _sleepGate = new();
    /// <summary>Set in <see cref="_gate"/> once the caller has finished its share: no worker may join after that.</summary>
    private const int Closed = 1 << 30;

    private long _generation;

    /// <summary>Workers inside the current job, plus <see cref="Closed"/> once it is closed.</summary>
    private int _gate = Closed;
    private int _sleepers;
    private volatile bool _disposed;
    private delegate*<void*, int, void> _body;
    private Exception? _workerError;
    private void* _state;

    /// <summary>Creates a pool of <paramref name="threadCount"/> threads, the caller included.</summary>
    public CpuWorkerPool(int threadCount)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(threadCount, 1);
        ThreadCount = threadCount;
        _threads = new Thread[threadCount - 1];
        for (int i = 0; i < _threads.Length; i++)
        {
            int index = i + 1;
            _threads[i] = new Thread(() => WorkerLoop(index))
            {
                IsBackground = true,
                Name = $"l4c-cpu-kernel-{index}",
            };
            _threads[i].Start();
        }
    }

    /// <summary>The process-wide pool: one thread per logical processor unless <see cref="ConfigureShared"/> said otherwise.</summary>
    public static CpuWorkerPool Shared => SharedPool.Value;

    /// <summary>
    /// Sets the thread count of <see cref="Shared"/> before its first use (processes sharing a host
    /// split the cores, as they do torch's threads). Returns false when the pool already exists with
    /// another count.
    /// </summary>
    public static bool ConfigureShared(int threadCount)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(threadCount, 1);
        if (SharedPool.IsValueCreated) return SharedPool.Value.ThreadCount == threadCount;
        s_sharedThreads = threadCount;
        return true;
    }

    /// <summary>Threads that take part in a call, the calling thread included.</summary>
    public int ThreadCount { get; }

    /// <summary>How long an idle worker polls for the next job before it blocks (default 50 µs).</summary>
    public int SpinMicroseconds { get; set; } = 50;

    /// <summary>
    /// Runs <paramref name="body"/>(<paramref name="state"/>, workerIndex) on every thread of the
    /// pool and returns when all have finished. Bodies share work through <paramref name="state"/>
    /// (typically an atomic chunk counter), so a late worker just finds nothing left to do.
    /// </summary>
    internal void Run(delegate*<void*, int, void> body, void* state)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_threads.Length == 0 || t_currentPool is not null)
        {
            body(state, 0);
            return;
        }

        lock (_callGate)
        {
            _body = body;
            _state = state;
            // Open the job. A worker that found the last one closed may still be backing out (its count not yet
            // taken back), so clear the bit instead of overwriting the count.
            Interlocked.Add(ref _gate, -Closed);
            Interlocked.Increment(ref _generation);
            if (Volatile.Read(ref _sleepers) > 0)
            {
                lock (_sleepGate)
                {
                    Monitor.PulseAll(_sleepGate);
                }
            }

            t_currentPool = this;
            Exception? workerError = null;
            try
            {
                body(state, 0);
            }
            finally
            {
                t_currentPool = null;
                // Close the job, then never return while a worker that joined may still read the caller's stack.
                Interlocked.Add(ref _gate, Closed);
                var spin = default(SpinWait);
                while (Volatile.Read(ref _gate) != Closed)
                {
                    spin.SpinOnce(sleep1Threshold: -1);
                }

                _body = null;
                _state = null;
                workerError = Interlocked.Exchange(ref _workerError, null);
            }

            // Reached only when the caller's own share did not throw: surface a worker's failure
            // on the calling thread instead of returning partial results.
            if (workerError is not null)
                throw new InvalidOperationException($"a CPU kernel worker thread failed: {workerError.Message}", workerError);
        }
    }

    /// <summary>Stops the background threads.</summary>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        Interlocked.Increment(ref _generation);
        lock (_sleepGate)
        {
            Monitor.PulseAll(_sleepGate);
        }

        foreach (var thread in _threads)
        {
            thread.Join();
        }
    }

    private void WorkerLoop(int index)
    {
        t_currentPool = this;
        long seen = 0;
        while (true)
        {
            seen = WaitForJob(seen);
            if (_disposed)
            {
                return;
            }

            if ((Interlocked.Increment(ref _gate) & Closed) != 0)
            {
                // The caller finished without us: back out and wait for the next job.
                Interlocked.Decrement(ref _gate);
                continue;
            }

            // Joined: the caller waits for us, so the job's fields stay valid until we leave. The generation may have
            // moved on since we woke (we joined a later job): remember the one we are in.
            seen = Volatile.Read(ref _generation);
            try
            {
                _body(_state, index);
            }
            catch (Exception ex)
            {
                // Kernel bodies do not throw; a bug here must neither kill the process nor leave the
                // caller waiting: the first failure is rethrown on the calling thread by Run.
                Interlocked.CompareExchange(ref _workerError, ex, null);
            }
            finally
            {
                Interlocked.Decrement(ref _gate);
            }
        }
    }

    private long WaitForJob(long seen)
    {
        long spinUntil = Stopwatch.GetTimestamp() + SpinMicroseconds * Stopwatch.Frequency / 1_000_000;
        while (true)
        {
            long generation = Volatile.Read(ref _generation);
            if (generation != seen)
            {
                return generation;
            }

            if (Stopwatch.GetTimestamp() < spinUntil)
            {
                Thread.SpinWait(16);
                continue;
            }

            lock (_sleepGate)
            {
                // Dekker-style handshake with Run: announce the sleeper, then re-check.
                Interlocked.Increment(ref _sleepers);
                while (Volatile.Read(ref _generation) == seen)
                {
                    Monitor.Wait(_sleepGate);
                }

                Interlocked.Decrement(ref _sleepers);
            }
        }
    }
}
