using System.Collections.Concurrent;
using TorchSharp;

namespace Llama4Cluster.Silos.Compute;

/// <summary>
/// A <see cref="TaskScheduler"/> over a few dedicated threads where a silo's tensor work runs, so that
/// Orleans' scheduler threads stay free for messaging, membership probes and other grains while experts
/// or attention compute. Grains hop here with <see cref="RunAsync{T}(Func{T}, CancellationToken)"/>
/// (a synchronous body) or <see cref="RunAsync{T}(Func{Task{T}}, CancellationToken)"/> (an async body whose
/// continuations come back to these threads; each synchronous section keeps its own dispose scope).
/// Autograd is switched off on these threads: inference only.
/// </summary>
public sealed class TensorComputeScheduler : TaskScheduler, IDisposable
{
    private readonly BlockingCollection<object> _queue = new(); // a Task of this scheduler, or an Action run outside any task
    private readonly Thread[] _threads;
    [ThreadStatic] private static TensorComputeScheduler? s_current;

    public TensorComputeScheduler(int threads, string name = "l4c-compute")
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(threads, 1);
        _threads = new Thread[threads];
        for (int i = 0; i < threads; i++)
        {
            _threads[i] = new Thread(Run) { IsBackground = true, Name = $"{name}-{i}" };
            _threads[i].Start();
        }
    }

    public override int MaximumConcurrencyLevel => _threads.Length;

    /// <summary>Runs a synchronous body on a compute thread.</summary>
    public Task<T> RunAsync<T>(Func<T> work, CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();
        return Task.Factory.StartNew(work, cancellationToken, TaskCreationOptions.DenyChildAttach, this);
    }

    /// <summary>Runs an async body whose continuations (those that do not leave the scheduler) stay on the compute threads.</summary>
    public Task<T> RunAsync<T>(Func<Task<T>> work, CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();
        return Task.Factory.StartNew(work, cancellationToken, TaskCreationOptions.DenyChildAttach, this).Unwrap();
    }

    /// <summary>
    /// Runs a synchronous body on a compute thread, outside any task of this scheduler, so the caller's continuation after
    /// the await runs on that thread as soon as the body returns (a continuation of a task that completes while this
    /// scheduler is the current one is queued to the thread pool instead: one more thread to wake, 0.1–0.3 ms on these VMs).
    /// For short tails such as writing an expert shard's reply; a continuation that does heavy work keeps the compute thread.
    /// </summary>
    public Task<T> RunAndContinueHereAsync<T>(Func<T> work, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(work);
        ThrowIfDisposed();
        var done = new TaskCompletionSource<T>(); // continuations inline: that is the point
        Enqueue(() =>
        {
            if (cancellationToken.IsCancellationRequested)
            {
                done.TrySetCanceled(cancellationToken);
                return;
            }
            T result;
            try
            {
                result = work();
            }
            catch (Exception e)
            {
                done.TrySetException(e);
                return;
            }
            done.TrySetResult(result);
        });
        return done.Task;
    }

    /// <summary>A continuation of work that was running here when the scheduler was disposed (a connection loop seeing its socket
    /// close as the silo stops) finishes on the thread pool instead of failing the process.</summary>
    protected override void QueueTask(Task task)
    {
        if (!TryAdd(task)) ThreadPool.UnsafeQueueUserWorkItem(_ => TryExecuteTask(task), null);
    }

    private void Enqueue(Action work)
    {
        if (!TryAdd(work)) throw Disposed();
    }

    private bool TryAdd(object item)
    {
        try
        {
            _queue.Add(item);
            return true;
        }
        catch (InvalidOperationException) when (_queue.IsAddingCompleted)
        {
            return false;
        }
    }

    private void ThrowIfDisposed()
    {
        if (_queue.IsAddingCompleted) throw Disposed();
    }

    private static ObjectDisposedException Disposed() => new(nameof(TensorComputeScheduler), "the silo's compute threads have stopped (the silo is shutting down)");

    protected override bool TryExecuteTaskInline(Task task, bool taskWasPreviouslyQueued) =>
        s_current == this && TryExecuteTask(task);

    protected override IEnumerable<Task> GetScheduledTasks() => _queue.ToArray().OfType<Task>();

    private void Run()
    {
        s_current = this;
        torch.set_grad_enabled(false);
        try
        {
            foreach (var item in _queue.GetConsumingEnumerable())
            {
                if (item is Task task) TryExecuteTask(task);
                else ((Action)item)(); // catches its own exceptions
            }
        }
        catch (ObjectDisposedException)
        {
            // Disposed while waiting: the silo is shutting down.
        }
    }

    public void Dispose() => _queue.CompleteAdding();
}
