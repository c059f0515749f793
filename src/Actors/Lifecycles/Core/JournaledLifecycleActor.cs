using Akka.Event;
using BufferActors.Actors.Persistence;

namespace BufferActors.Actors.Lifecycles;

/// <summary>
/// Base of the lifecycle actors: their journaled state is a <see cref="LifecycleRecord"/> changed only by
/// applying events, and an event is applied — and the caller answered — only once the journal has
/// made it durable. While a write is in flight, other messages wait in the stash, so a lifecycle
/// handles one step at a time. Without a journal, events are applied at once.
/// </summary>
/// <remarks>
/// An <see cref="UntypedActor"/> with one switch per kind rather than a ReceiveActor: a ReceiveActor
/// builds its table of typed handlers (delegates, closures, the compiled match) in every instance,
/// about 1.3 KB per lifecycle, most of an idle lifecycle's memory when 100,000 are live
/// (docs/performance.md, "Scale").
/// </remarks>
public abstract class JournaledLifecycleActor : UntypedActor, IWithUnboundedStash, IWithTimers
{
    private long _correlation;
    private IActorRef? _caller; // the sender of the command being handled, until its handler returns
    private IActorRef? _requester; // who asked for the lifecycle's start, until answered
    private bool _journaled; // something of this lifecycle is durable (or it was adopted from the journal)
    private bool _writing; // a write of this lifecycle is in flight: its events may be durable
    private bool _endWriting; // ... and it holds the lifecycle's terminal event

    /// <summary>Creates the base.</summary>
    protected JournaledLifecycleActor(LifecycleId id, LifecycleServices context, LifecycleRecord? adopted)
    {
        Id = id;
        Services = context;
        _record = adopted ?? LifecycleRecord.Start(id, context.Clock.GetUtcNow());
        context.Metrics?.RecordChanged(null, _record);
        _journaled = adopted is not null;
    }

    /// <summary>The lifecycle's id: the one this actor runs now (an export actor may run several, one after another).</summary>
    protected LifecycleId Id { get; private set; }

    /// <summary>Device, journal and clock.</summary>
    protected LifecycleServices Services { get; }

    /// <summary>The device session.</summary>
    protected DeviceSession Session => Services.Session;

    /// <summary>The fold of this lifecycle's events so far; the instruments follow every change.</summary>
    protected LifecycleRecord Record
    {
        get => _record;
        private set
        {
            Services.Metrics?.RecordChanged(_record, value);
            _record = value;
        }
    }

    private LifecycleRecord _record;
    private long _releaseAskedAt; // when ReleaseRequested was applied (a stopwatch timestamp), for the release's duration

    /// <inheritdoc />
    public IStash Stash { get; set; } = null!;

    /// <inheritdoc />
    public ITimerScheduler Timers { get; set; } = null!;

    /// <summary>Now, from the context's clock.</summary>
    protected DateTimeOffset Now => Services.Clock.GetUtcNow();

    /// <summary>
    /// Takes a <see cref="StartLifecycle"/>: the requester is held before anything can throw (answered on
    /// every way out), an actor that ran a lifecycle before starts afresh under the new id (a new record, the
    /// last lifecycle's timers cancelled: Akka drops their messages even if already queued), then the
    /// checkpoint named after the request and <see cref="Start"/>.
    /// </summary>
    private void OnStartLifecycle(StartLifecycle m)
    {
        _requester = m.Requester;
        if (m.Id != Id)
        {
            Id = m.Id;
            Record = LifecycleRecord.Start(m.Id, Now);
            _releaseAskedAt = 0;
            _journaled = false;
            _writing = _endWriting = false;
            Timers.CancelAll();
        }
        Checkpoint(m.Request.GetType().Name);
        Start(m.Request);
    }

    /// <summary>
    /// Acquires the lifecycle's kernel object for <paramref name="request"/> and journals it; answers the
    /// requester with <see cref="AnswerRequester"/> (a refusal too, which ends the lifecycle holding nothing).
    /// </summary>
    protected abstract void Start(object request);

    /// <summary>The held requester, no longer held (null if there is none).</summary>
    protected IActorRef? TakeRequester()
    {
        var requester = _requester;
        _requester = null;
        return requester;
    }

    /// <summary>Answers the requester of the lifecycle's start, once.</summary>
    protected void AnswerRequester(object answer) => TakeRequester()?.Tell(answer);

    /// <summary>
    /// Makes <paramref name="events"/> durable, then applies them and runs <paramref name="then"/>; if the
    /// journal fails or does not answer in time, runs <paramref name="failed"/> instead and applies nothing.
    /// </summary>
    protected void Persist(IReadOnlyList<LifecycleEvent> events, Action then, Action<string> failed)
    {
        if (Services.Journal is null)
        {
            ApplyAll(events);
            then();
            return;
        }
        PersistThroughJournal(Services.Journal, events, then, failed, caller: null);
    }

    // Apart from Persist so that a lifecycle without a journal does not allocate what this captures.
    private void PersistThroughJournal(IActorRef journal, IReadOnlyList<LifecycleEvent> events, Action then, Action<string> failed, IActorRef? caller)
    {
        long correlation = ++_correlation;
        _writing = true;
        _endWriting = HasTerminal(events);
        journal.Tell(new LifecycleJournal.Record(correlation, events));
        Timers.StartSingleTimer(("journal", correlation), new JournalTimedOut(correlation), Services.JournalTimeout);
        BecomeStacked(message =>
        {
            switch (message)
            {
                case LifecycleJournal.Recorded r when r.Correlation == correlation:
                    Timers.Cancel(("journal", correlation));
                    UnbecomeStacked();
                    _journaled = true;
                    _writing = _endWriting = false;
                    ApplyAll(events);
                    _caller = caller; // as in OnReceive: if the continuation throws, the caller hears the lifecycle stopped
                    then();
                    _caller = null;
                    Stash.UnstashAll();
                    break;
                case LifecycleJournal.RecordFailed r when r.Correlation == correlation:
                    Fail(r.Reason);
                    break;
                case JournalTimedOut t when t.Correlation == correlation:
                    Fail($"journal did not answer within {Services.JournalTimeout}");
                    break;
                case Retire:
                    Context.Stop(Self);
                    break;
                default:
                    Stash.Stash();
                    break;
            }
        });

        void Fail(string reason)
        {
            Timers.Cancel(("journal", correlation));
            UnbecomeStacked();
            _writing = _endWriting = false; // nothing of this write is durable
            failed(reason);
            Stash.UnstashAll();
        }
    }

    private static bool HasTerminal(IReadOnlyList<LifecycleEvent> events)
    {
        for (int i = 0; i < events.Count; i++) if (events[i].IsTerminal) return true;
        return false;
    }

    private void ApplyAll(IReadOnlyList<LifecycleEvent> events)
    {
        for (int i = 0; i < events.Count; i++) Apply(events[i]); // no boxed enumerator
    }

    /// <summary>Persists one event.</summary>
    protected void Persist(LifecycleEvent e, Action then, Action<string> failed) => Persist([e], then, failed);

    /// <summary>
    /// Persists <paramref name="events"/> for a command of <paramref name="caller"/>: if the journal fails, the
    /// lifecycle is lost (<see cref="JournalLost"/>) and the caller told so. The failure handler is built only
    /// then, not on every step.
    /// </summary>
    protected void Persist(IReadOnlyList<LifecycleEvent> events, Action then, IActorRef? caller)
    {
        if (Services.Journal is null)
        {
            ApplyAll(events);
            then();
            return;
        }
        PersistThroughJournal(Services.Journal, events, then, reason => JournalLost(caller, reason), caller);
    }

    /// <summary>Persists one event for a command of <paramref name="caller"/>.</summary>
    protected void Persist(LifecycleEvent e, Action then, IActorRef? caller) => Persist([e], then, caller);

    /// <summary>Applies a durable event to <see cref="Record"/>; the only place it changes.</summary>
    protected virtual void Apply(LifecycleEvent e)
    {
        Record = Record.Apply(e);
        if (e is ReleaseRequested) _releaseAskedAt = System.Diagnostics.Stopwatch.GetTimestamp();
        else if (e.IsTerminal && _releaseAskedAt != 0)
        {
            Services.Metrics?.ReleaseEnded(Id.Kind, System.Diagnostics.Stopwatch.GetElapsedTime(_releaseAskedAt));
            _releaseAskedAt = 0;
        }
    }

    /// <summary>
    /// The normal behaviour: <see cref="Retire"/> stops the lifecycle, <see cref="Handle"/> takes the
    /// commands of its kind, and anything else is refused with InvalidArgument.
    /// </summary>
    protected sealed override void OnReceive(object message)
    {
        if (message is Retire)
        {
            Context.Stop(Self);
            return;
        }
        if (message is StartLifecycle start)
        {
            OnStartLifecycle(start);
            return;
        }
        if (message is ILifecycleCommand command)
        {
            // For a lifecycle this actor ran before: it has finished, and is answered as the supervisor answers for one.
            if (command.Id != Id)
            {
                Sender.Tell(command.NotFoundAnswer());
                return;
            }
            _caller = Sender;
        }
        if (!Handle(message))
            Sender.Tell(new OperationFailed(ErrorCode.InvalidArgument, $"{Id} does not take {message.GetType().Name}"));
        _caller = null; // the handler returned: it answered its caller, or left that to later events
    }

    /// <summary>
    /// The command being handled is answered by the lifecycle on every way out (a parked waiter): if its
    /// handler throws, the caller must not be answered a second time.
    /// </summary>
    protected void CallerAnsweredOnEveryWayOut() => _caller = null;

    /// <inheritdoc />
    public override void AroundPostStop()
    {
        try
        {
            base.AroundPostStop(); // PostStop: what the lifecycle held is released
        }
        finally
        {
            // A start or a handler that threw left its asker unanswered: it hears that the lifecycle stopped,
            // instead of waiting for its request's timeout.
            // Built only when someone is still owed an answer: every lifecycle actor's stop passes here.
            TakeRequester()?.Tell(new OperationFailed(ErrorCode.Stopped, $"{Id}: stopped by a failure before it answered the start; nothing is held"));
            _caller?.Tell(new OperationFailed(ErrorCode.Stopped, $"{Id}: stopped by a failure while handling the request; what it held was released"));
            _caller = null;
            Services.Metrics?.RecordChanged(_record, null); // what it counted for goes with it
        }
    }

    /// <summary>Handles one command of this kind of lifecycle; false when it does not take <paramref name="message"/>.</summary>
    protected abstract bool Handle(object message);

    /// <summary>The fault-injection checkpoint, run on entry to the handler named <paramref name="handler"/> (the message type's name).</summary>
    protected void Checkpoint(string handler) => Session.Checkpoint(Id, handler);

    /// <summary>Runs the checkpoint named after <typeparamref name="T"/>, then <paramref name="handler"/>; true, for <see cref="Handle"/>.</summary>
    protected bool Run<T>(T message, Action<T> handler)
    {
        Checkpoint(typeof(T).Name);
        handler(message);
        return true;
    }

    /// <summary>Tells the supervisor this lifecycle holds nothing any more.</summary>
    protected void Finished() => Context.Parent.Tell(new LifecycleFinished(Id));

    /// <summary>
    /// The journal is unusable: the lifecycle stops, and its PostStop releases what it holds and owes the
    /// journal the end it saw (<see cref="OweEnd"/>).
    /// </summary>
    protected void JournalLost(IActorRef? caller, string reason)
    {
        caller?.Tell(new OperationFailed(ErrorCode.Journal, $"{Id}: {reason}; the lifecycle was stopped and released"));
        Context.GetLogger().Warning("{0}: stopped after a journal failure: {1}", Id, reason);
        Context.Stop(Self);
    }

    /// <summary>
    /// True when the journal must still be told how this lifecycle ended: it knows the lifecycle (something of it is
    /// durable, or may be: a write is in flight) and neither holds its terminal event nor has one on its way.
    /// </summary>
    protected bool JournalOwedEnd => (_journaled || _writing) && !Record.IsFinished && !_endWriting;

    /// <summary>
    /// Sends <paramref name="events"/> — how a lifecycle that is stopping ended, or what the kernel reported after
    /// it stopped — without waiting for them: the outbox writes them, retrying until the journal takes them, so the
    /// journal never shows live what the kernel no longer holds. Only when the journal knows this lifecycle.
    /// </summary>
    protected void OweEnd(IReadOnlyList<LifecycleEvent> events)
    {
        if (!JournalOwedEnd || events.Count == 0) return;
        _endWriting = HasTerminal(events);
        OweJournal(Services, events);
    }

    /// <summary>Sends <paramref name="events"/> to the outbox of <paramref name="services"/> (or, without one, straight to its journal).</summary>
    internal static void OweJournal(LifecycleServices services, IReadOnlyList<LifecycleEvent> events)
    {
        if (services.Outbox is { } outbox) outbox.Tell(new JournalOutbox.Owe(events), ActorRefs.NoSender);
        else services.Journal?.Tell(new LifecycleJournal.Record(0, events), ActorRefs.NoSender);
    }

    private sealed record JournalTimedOut(long Correlation);
}
