using Akka.Dispatch;
using Akka.Dispatch.MessageQueues;

namespace BufferActors.Actors.Lifecycles;

/// <summary>
/// An unbounded double-ended message queue that costs a few dozen bytes until used: a lock around a
/// queue created with the first message, and a stack for what the stash puts back in front. A lifecycle
/// gets few messages, from few senders, so the lock is almost never contended.
/// </summary>
public sealed class LifecycleMessageQueue : IMessageQueue, IUnboundedDequeBasedMessageQueueSemantics
{
    private readonly Lock _gate = new();
    private Queue<Envelope>? _queue;
    private Stack<Envelope>? _front; // unstashed messages; the stash pushes them last first
    private int _count;

    /// <inheritdoc />
    public bool HasMessages => Volatile.Read(ref _count) > 0;

    /// <inheritdoc />
    public int Count => Volatile.Read(ref _count);

    /// <inheritdoc />
    public void Enqueue(IActorRef receiver, Envelope envelope)
    {
        lock (_gate)
        {
            (_queue ??= new Queue<Envelope>()).Enqueue(envelope);
            _count++;
        }
    }

    /// <inheritdoc />
    public void EnqueueFirst(Envelope envelope)
    {
        lock (_gate)
        {
            (_front ??= new Stack<Envelope>()).Push(envelope);
            _count++;
        }
    }

    /// <inheritdoc />
    public bool TryDequeue(out Envelope envelope)
    {
        lock (_gate)
        {
            if (_front is not null && _front.TryPop(out envelope) || _queue is not null && _queue.TryDequeue(out envelope))
            {
                _count--;
                return true;
            }
            envelope = default;
            return false;
        }
    }

    /// <inheritdoc />
    public void CleanUp(IActorRef owner, IMessageQueue deadletters)
    {
        // What is left when the actor stops goes to dead letters, where the manager answers commands.
        while (TryDequeue(out var envelope)) deadletters.Enqueue(owner, envelope);
    }
}
