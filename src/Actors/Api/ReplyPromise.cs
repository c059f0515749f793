namespace BufferActors.Actors.Api;

/// <summary>
/// The sender of one request from <see cref="BufferActorsClient"/>: the first message told to it is the
/// answer. A lighter Ask: Akka's registers a temporary actor and runs a clean-up continuation on the
/// thread pool for every request, which at a few requests per lifecycle costs more than the work. When the
/// actors answered on the caller's thread (the inline dispatcher) the answer is read at once, with no task;
/// a task is made only for a caller that has to wait.
/// </summary>
internal sealed class ReplyPromise(IActorRefProvider provider) : MinimalActorRef
{
    // Put in _waiter by the answer: whoever comes later reads _reply instead of waiting.
    private static readonly TaskCompletionSource<object> Answered = new();

    private ActorPath? _path;
    private IActorRef? _route;
    private IActorRef? _replier;
    private object? _reply;
    private TaskCompletionSource<object>? _waiter;

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
        bool answered = ReferenceEquals(Volatile.Read(ref _waiter), Answered);
        reply = answered ? _reply! : null!;
        return answered;
    }

    /// <summary>The answer, when it comes; continuations never run on the answering actor's thread.</summary>
    public Task<object> Reply()
    {
        var waiter = new TaskCompletionSource<object>(TaskCreationOptions.RunContinuationsAsynchronously);
        return Interlocked.CompareExchange(ref _waiter, waiter, null) is null ? waiter.Task : Task.FromResult(_reply!);
    }

    /// <inheritdoc />
    protected override void TellInternal(object message, IActorRef sender)
    {
        // The first message is the answer; any later one (none is expected) goes to dead letters.
        if (Interlocked.CompareExchange(ref _replier, sender ?? ActorRefs.Nobody, null) is not null)
        {
            Provider.DeadLetters.Tell(message, sender);
            return;
        }
        _reply = message;
        Interlocked.Exchange(ref _waiter, Answered)?.SetResult(message); // a caller already waiting
    }
}
