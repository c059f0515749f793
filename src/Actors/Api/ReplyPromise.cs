using Akka.Actor.Internal;

namespace BufferActors.Actors.Api;

/// <summary>
/// The sender of one request from <see cref="BufferActorsClient"/>: the first message told to it completes
/// <see cref="Reply"/>. A lighter Ask: Akka's registers a temporary actor and runs a clean-up continuation on
/// the thread pool for every request, which at a few requests per lifecycle costs more than the work.
/// </summary>
internal sealed class ReplyPromise(IActorRefProvider provider) : MinimalActorRef
{
    private readonly TaskCompletionSource<object> _reply = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private ActorPath? _path;
    private IActorRef? _replier;

    /// <summary>The answer; continuations never run on the answering actor's thread.</summary>
    public Task<object> Reply => _reply.Task;

    /// <summary>Who sent the answer (Nobody for no sender); set before <see cref="Reply"/> completes.</summary>
    public IActorRef? Replier => Volatile.Read(ref _replier);

    /// <inheritdoc />
    public override IActorRefProvider Provider { get; } = provider;

    /// <inheritdoc />
    // Only named when someone asks (a dead-letter log line): nothing ever sends to it by path.
    public override ActorPath Path => _path ??= Provider.TempPath();

    /// <inheritdoc />
    protected override void TellInternal(object message, IActorRef sender)
    {
        // The first message is the answer; any later one (none is expected) goes to dead letters.
        if (Interlocked.CompareExchange(ref _replier, sender ?? ActorRefs.Nobody, null) is null) _reply.SetResult(message);
        else Provider.DeadLetters.Tell(message, sender);
    }
}
