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
    private readonly BlockingCollection<Task> _queue = new();
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
    public Task<T> RunAsync<T>(Func<T> work, CancellationToken cancellationToken = default) =>
        Task.Factory.StartNew(work, cancellationToken, TaskCreationOptions.DenyChildAttach, this);

    /// <summary>Runs an async body whose continuations (those that do not leave the scheduler) stay on the compute threads.</summary>
    public Task<T> RunAsync<T>(Func<Task<T>> work, CancellationToken cancellationToken = default) =>
        Task.Factory.StartNew(work, cancellationToken, TaskCreationOptions.DenyChildAttach, this).Unwrap();

    protected override void QueueTask(Task task) => _queue.Add(task);

    protected override bool TryExecuteTaskInline(Task task, bool taskWasPreviouslyQueued) =>
        s_current == this && TryExecuteTask(task);

    protected override IEnumerable<Task> GetScheduledTasks() => _queue.ToArray();

    private void Run()
    {
        s_current = this;
        torch.set_grad_enabled(false);
        try
        {
            foreach (var task in _queue.GetConsumingEnumerable()) TryExecuteTask(task);
        }
        catch (ObjectDisposedException)
        {
            // Disposed while waiting: the silo is shutting down.
        }
    }

    public void Dispose() => _queue.CompleteAdding();
}
