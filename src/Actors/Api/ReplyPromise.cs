namespace BufferActors.Actors.Api;

/// <summary>
/// The sender of one request from <see cref="BufferActorsClient"/>: the first message told to it is the
/// answer. A lighter Ask: Akka's registers a temporary actor and runs a clean-up continuation on the
/// thread pool for every request, which at a few requests per lifecycle costs more than the work. When the
/// actors answered on the caller's thread (the inline dispatcher) the answer is read at once, with no task;
/// a caller that has to wait gets a <see cref="ReplyWaiter"/>.
/// </summary>
internal sealed class ReplyPromise(IActorRefProvider provider) : MinimalActorRef
{
    private ActorPath? _path;
    private IActorRef? _route;
    private object? _reply;
    private ReplyWaiter? _waiter; // ReplyWaiter.Answered once the answer came

    /// <summary>The domain supervisor that started the request's lifecycle, if it said so (<see cref="RouteTo"/>).</summary>
    public IActorRef? Route => Volatile.Read(ref _route);

    /// <summary>Set by the domain supervisor that starts the lifecycle, before the lifecycle can answer.</summary>
    public void RouteTo(IActorRef supervisor) => Volatile.Write(ref _route, supervisor);

    /// <inheritdoc />
    public override IActorRefProvider Provider { get; } = provider;

    /// <inheritdoc />
    // Only named when someone asks (a dead-letter log line): nothing ever sends to it by path.
    public override ActorPath Path => _path ??= Provider.TempPath();

    /// <summary>The answer, if it has come.</summary>
    public bool TryGetReply(out object reply)
    {
        bool answered = ReferenceEquals(Volatile.Read(ref _waiter), ReplyWaiter.Answered);
        reply = answered ? _reply! : null!;
        return answered;
    }

    /// <summary>Hands the answer to <paramref name="waiter"/> when it comes, or at once if it came already.</summary>
    public void AnswerTo(ReplyWaiter waiter)
    {
        if (Interlocked.CompareExchange(ref _waiter, waiter, null) is not null) waiter.Complete(_reply!);
    }

    /// <inheritdoc />
    protected override void TellInternal(object message, IActorRef sender)
    {
        // The first message is the answer; any later one (none is expected) goes to dead letters.
        if (Interlocked.CompareExchange(ref _reply, message, null) is not null)
        {
            Provider.DeadLetters.Tell(message, sender);
            return;
        }
        Interlocked.Exchange(ref _waiter, ReplyWaiter.Answered)?.Complete(message); // a caller already waiting
    }
}
