using static BufferActors.Actors.Persistence.JournalOutbox;

namespace BufferActors.Actors.Persistence;

/// <summary>
/// Writes the events a lifecycle owes the journal but cannot wait for: the end of a lifecycle stopped by
/// a failure, by its domain's death or by a journal failure, and the release the kernel reports after a
/// lifecycle stopped. Without it such a lifecycle would stay live in the journal while the kernel object is
/// gone, and recovery would adopt an object that no longer exists. Everything owed goes out as one atomic
/// write, retried with back-off until the journal takes it: a rejection or a restarting journal delays the
/// events, never drops them. Events owed when the process dies are reconciled by the next start, which closes
/// what the journal still shows live as <see cref="Reclaimed"/>.
/// </summary>
public sealed class JournalOutboxActor : UntypedActor, IWithTimers
{
    private readonly IActorRef _journal;
    private readonly TimeSpan _journalTimeout;
    private readonly TimeSpan _maxBackoff;
    private List<LifecycleEvent> _owed = [];
    private List<LifecycleEvent>? _inFlight;
    private List<(IActorRef Asker, long Before)> _drains = []; // Before: owed events counted from the start that must be durable
    private long _correlation;
    private long _durable; // events made durable since the start
    private long _received;
    private TimeSpan _backoff = TimeSpan.Zero;

    /// <summary>Creates the outbox.</summary>
    public JournalOutboxActor(IActorRef journal, TimeSpan journalTimeout, TimeSpan maxBackoff)
    {
        _journal = journal;
        _journalTimeout = journalTimeout;
        _maxBackoff = maxBackoff;
    }

    /// <inheritdoc />
    public ITimerScheduler Timers { get; set; } = null!;

    /// <inheritdoc />
    protected override void OnReceive(object message)
    {
        switch (message)
        {
            case Owe m:
                if (m.Events.Count == 0) break;
                _owed.AddRange(m.Events);
                _received += m.Events.Count;
                if (_inFlight is null && !Timers.IsTimerActive("retry")) Send();
                break;
            case Drain:
                if (_durable == _received) Sender.Tell(new Drained());
                else _drains.Add((Sender, _received));
                break;
            case GetOwed:
                Sender.Tell((int)(_received - _durable));
                break;
            case LifecycleJournal.Recorded r when r.Correlation == _correlation && _inFlight is not null:
                Timers.Cancel("timeout");
                _durable += _inFlight.Count;
                _inFlight = null;
                _backoff = TimeSpan.Zero;
                AnswerDrains();
                Send();
                break;
            case LifecycleJournal.RecordFailed r when r.Correlation == _correlation && _inFlight is not null:
                Retry();
                break;
            case WriteTimedOut t when t.Correlation == _correlation && _inFlight is not null:
                Retry();
                break;
            case RetryNow:
                Send();
                break;
            case LifecycleJournal.Recorded or LifecycleJournal.RecordFailed or WriteTimedOut:
                break; // of a write already given up on: its events went out again
            default:
                Unhandled(message);
                break;
        }
    }

    private void Send()
    {
        if (_inFlight is not null || _owed.Count == 0) return;
        _inFlight = _owed;
        _owed = [];
        _journal.Tell(new LifecycleJournal.Record(++_correlation, _inFlight));
        Timers.StartSingleTimer("timeout", new WriteTimedOut(_correlation), _journalTimeout);
    }

    /// <summary>The write did not happen: its events go out again, first, after a back-off (the journal may be restarting).</summary>
    private void Retry()
    {
        Timers.Cancel("timeout");
        _inFlight!.AddRange(_owed);
        _owed = _inFlight;
        _inFlight = null;
        _backoff = _backoff == TimeSpan.Zero ? TimeSpan.FromMilliseconds(10) : TimeSpan.FromTicks(Math.Min(_backoff.Ticks * 2, _maxBackoff.Ticks));
        Timers.StartSingleTimer("retry", RetryNow.Instance, _backoff);
    }

    private void AnswerDrains()
    {
        if (_drains.Count == 0) return;
        var waiting = new List<(IActorRef, long)>();
        foreach (var (asker, before) in _drains)
        {
            if (_durable >= before) asker.Tell(new Drained());
            else waiting.Add((asker, before));
        }
        _drains = waiting;
    }

    private sealed record WriteTimedOut(long Correlation);

    private sealed class RetryNow
    {
        public static readonly RetryNow Instance = new();
    }
}
