using BufferActors.Actors.Persistence;

namespace BufferActors.Actors.Lifecycles;

/// <summary>
/// Base of the lifecycle actors: their journaled state is a <see cref="LifecycleRecord"/> changed only by
/// applying events, and an event is applied — and the caller answered — only once the journal has
/// made it durable. While a write is in flight, other messages wait in the stash, so a lifecycle
/// handles one step at a time. Without a journal, events are applied at once.
/// </summary>
public abstract class JournaledLifecycleActor : ReceiveActor, IWithUnboundedStash, IWithTimers
{
    private long _correlation;
    private bool _journaled; // something of this lifecycle is durable (or it was adopted from the journal)

    /// <summary>Creates the base.</summary>
    protected JournaledLifecycleActor(LifecycleId id, LifecycleServices context, LifecycleRecord? adopted)
    {
        Id = id;
        Services = context;
        Record = adopted ?? LifecycleRecord.Start(id, context.Clock.GetUtcNow());
        _journaled = adopted is not null;
    }

    /// <summary>The lifecycle's id.</summary>
    protected LifecycleId Id { get; }

    /// <summary>Device, journal and clock.</summary>
    protected LifecycleServices Services { get; }

    /// <summary>The device session.</summary>
    protected DeviceSession Session => Services.Session;

    /// <summary>The fold of this lifecycle's events so far.</summary>
    protected LifecycleRecord Record { get; private set; }

    /// <inheritdoc />
    public IStash Stash { get; set; } = null!;

    /// <inheritdoc />
    public ITimerScheduler Timers { get; set; } = null!;

    /// <summary>Now, from the context's clock.</summary>
    protected DateTimeOffset Now => Services.Clock.GetUtcNow();

    /// <summary>
    /// Makes <paramref name="events"/> durable, then applies them and runs <paramref name="then"/>; if the
    /// journal fails or does not answer in time, runs <paramref name="failed"/> instead and applies nothing.
    /// </summary>
    protected void Persist(IReadOnlyList<LifecycleEvent> events, Action then, Action<string> failed)
    {
        if (Services.Journal is null)
        {
            foreach (var e in events) Apply(e);
            then();
            return;
        }
        long correlation = ++_correlation;
        Services.Journal.Tell(new LifecycleJournal.Record(correlation, events));
        Timers.StartSingleTimer(("journal", correlation), new JournalTimedOut(correlation), Services.JournalTimeout);
        BecomeStacked(() =>
        {
            Receive<LifecycleJournal.Recorded>(r => r.Correlation == correlation, _ =>
            {
                Timers.Cancel(("journal", correlation));
                UnbecomeStacked();
                _journaled = true;
                foreach (var e in events) Apply(e);
                then();
                Stash.UnstashAll();
            });
            Receive<LifecycleJournal.RecordFailed>(r => r.Correlation == correlation, r => Fail(r.Reason));
            Receive<JournalTimedOut>(t => t.Correlation == correlation, _ => Fail($"journal did not answer within {Services.JournalTimeout}"));
            Receive<Retire>(_ => Context.Stop(Self));
            ReceiveAny(_ => Stash.Stash());
        });

        void Fail(string reason)
        {
            Timers.Cancel(("journal", correlation));
            UnbecomeStacked();
            failed(reason);
            Stash.UnstashAll();
        }
    }

    /// <summary>Persists one event.</summary>
    protected void Persist(LifecycleEvent e, Action then, Action<string> failed) => Persist([e], then, failed);

    /// <summary>Applies a durable event to <see cref="Record"/>; the only place it changes.</summary>
    protected virtual void Apply(LifecycleEvent e) => Record = Record.Apply(e);

    /// <summary>Runs the fault-injection checkpoint, then the handler.</summary>
    protected void Handle<T>(Action<T> handler) => Receive<T>(m =>
    {
        Session.Checkpoint(Id, typeof(T).Name);
        handler(m);
    });

    /// <summary>Tells the supervisor this lifecycle holds nothing any more.</summary>
    protected void Finished() => Context.Parent.Tell(new LifecycleFinished(Id));

    /// <summary>The journal is unusable: the lifecycle stops and its PostStop releases what it holds.</summary>
    protected void JournalLost(IActorRef? caller, string reason)
    {
        caller?.Tell(new OperationFailed(ErrorCode.Journal, $"{Id}: {reason}; the lifecycle was stopped and released"));
        if (_journaled) RecordBestEffort([new Failed(Id, Now, ErrorCode.Journal, $"stopped and released after a journal failure: {reason}", null)]);
        Context.Stop(Self);
    }

    /// <summary>
    /// Sends the end of a lifecycle that is stopping anyway without waiting for the answer: if the journal
    /// takes it (a rejection leaves the journal running; a restarted journal is back), the journal shows the
    /// lifecycle finished instead of live; if not, the next start reclaims it.
    /// </summary>
    protected void RecordBestEffort(IReadOnlyList<LifecycleEvent> events) =>
        Services.Journal?.Tell(new LifecycleJournal.Record(0, events), ActorRefs.NoSender);

    /// <summary>Answers commands a lifecycle of this kind does not take.</summary>
    protected void RefuseOthers() =>
        ReceiveAny(m => Sender.Tell(new OperationFailed(ErrorCode.InvalidArgument, $"{Id} does not take {m.GetType().Name}")));

    private sealed record JournalTimedOut(long Correlation);
}
