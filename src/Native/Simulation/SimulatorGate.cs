namespace BufferActors.Native.Simulation;

/// <summary>
/// The simulator's one lock (<see cref="XenSimulator.Gate"/>), and the signal that its state changed: every
/// operation runs inside <see cref="Enter"/>, and when the outermost scope ends, the conditions callers wait on
/// (<see cref="When"/>) are evaluated there, still under the lock. A test waits for what it expects — "no
/// export left", "two callers blocked in WAIT_RELEASED" — and is woken by the operation that makes it true.
/// </summary>
public sealed class SimulatorGate
{
    private readonly List<(Func<bool> Condition, TaskCompletionSource Done)> _watches = [];
    private int _depth; // of the thread that holds the lock; saved and restored around Wait

    /// <summary>Takes the lock (re-entrant); disposing the scope releases it.</summary>
    public Scope Enter()
    {
        Monitor.Enter(this);
        _depth++;
        return new Scope(this);
    }

    /// <summary>
    /// Completes once <paramref name="condition"/> holds, evaluated under the lock now and after every operation;
    /// fails with <see cref="TimeoutException"/> after <paramref name="timeout"/>. The condition must not block.
    /// </summary>
    public Task When(Func<bool> condition, TimeSpan timeout)
    {
        ArgumentNullException.ThrowIfNull(condition);
        using (Enter())
        {
            if (condition()) return Task.CompletedTask;
            var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _watches.Add((condition, done));
            if (timeout != Timeout.InfiniteTimeSpan)
            {
                // A watch that timed out is completed, and dropped at the next operation.
                var expiry = new CancellationTokenSource(timeout);
                expiry.Token.Register(() => done.TrySetException(new TimeoutException($"the simulator's state did not reach the awaited condition within {timeout}")));
                done.Task.ContinueWith(_ => expiry.Dispose(), TaskScheduler.Default);
            }
            return done.Task;
        }
    }

    /// <summary>Releases the lock while waiting to be pulsed (<see cref="PulseAll"/>) or for <paramref name="timeout"/>; the caller holds it.</summary>
    public void Wait(TimeSpan timeout)
    {
        if (_watches.Count > 0) Notify(); // what the waiting caller changed before it waits counts too
        int depth = _depth;
        _depth = 0; // another thread owns the count while this one waits
        try
        {
            Monitor.Wait(this, timeout);
        }
        finally
        {
            _depth = depth;
        }
    }

    /// <summary>Wakes every thread in <see cref="Wait"/>; the caller holds the lock.</summary>
    public void PulseAll() => Monitor.PulseAll(this);

    private void Exit()
    {
        try
        {
            if (_depth == 1 && _watches.Count > 0) Notify();
        }
        finally
        {
            _depth--;
            Monitor.Exit(this);
        }
    }

    private void Notify()
    {
        for (int i = _watches.Count - 1; i >= 0; i--)
        {
            var (condition, done) = _watches[i];
            if (done.Task.IsCompleted || condition())
            {
                _watches.RemoveAt(i);
                done.TrySetResult();
            }
        }
    }

    /// <summary>The lock held; <see cref="Dispose"/> releases it.</summary>
    public readonly struct Scope(SimulatorGate gate) : IDisposable
    {
        /// <summary>Releases the lock, first waking the waiters whose condition now holds.</summary>
        public void Dispose() => gate.Exit();
    }
}
