using Akka.Dispatch;
using Akka.Dispatch.MessageQueues;

namespace BufferActors.Actors.Lifecycles;

/// <summary>
/// An unbounded double-ended message queue that costs a few fields until two messages wait at once: the first
/// waiting message has a slot of its own, a queue is made only for the ones behind it, and a stack holds what the
/// stash puts back in front. A lifecycle gets few messages, from few senders, and on the inline dispatcher is run
/// as soon as one comes, so most never need the queue; the lock is the queue's own monitor (no lock object), almost
/// never contended. At 100,000 live lifecycles a lock object and an emptied queue kept by each would be ~100 B of
/// every one (docs/performance.md, "Scale").
/// </summary>
public sealed class LifecycleMessageQueue : IMessageQueue, IUnboundedDequeBasedMessageQueueSemantics
{
    private Envelope _first; // the oldest waiting message, when _hasFirst; older than everything in _queue
    private bool _hasFirst;
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
        lock (this)
        {
            if (!_hasFirst && (_queue is null || _queue.Count == 0))
            {
                _first = envelope;
                _hasFirst = true;
            }
            else (_queue ??= new Queue<Envelope>()).Enqueue(envelope);
            _count++;
        }
    }

    /// <inheritdoc />
    public void EnqueueFirst(Envelope envelope)
    {
        lock (this)
        {
            (_front ??= new Stack<Envelope>()).Push(envelope);
            _count++;
        }
    }

    /// <inheritdoc />
    public bool TryDequeue(out Envelope envelope)
    {
        lock (this)
        {
            if (_front is null || !_front.TryPop(out envelope))
            {
                if (_hasFirst)
                {
                    envelope = _first;
                    _first = default;
                    _hasFirst = false;
                }
                else if (_queue is null || !_queue.TryDequeue(out envelope))
                {
                    envelope = default;
                    return false;
                }
            }
            _count--;
            return true;
        }
    }

    /// <inheritdoc />
    public void CleanUp(IActorRef owner, IMessageQueue deadletters)
    {
        // What is left when the actor stops goes to dead letters, where the manager answers commands.
        while (TryDequeue(out var envelope)) deadletters.Enqueue(owner, envelope);
    }
}
