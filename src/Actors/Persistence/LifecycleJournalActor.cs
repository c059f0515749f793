using Akka.Event;
using Akka.Persistence;
using static BufferActors.Actors.Persistence.LifecycleJournal;

namespace BufferActors.Actors.Persistence;

/// <summary>
/// The write-ahead journal of every lifecycle. Lifecycles send their events here and answer their
/// callers only once the events are durable. Writes are group-committed: while one atomic write is in
/// flight, new records queue up and go out together as the next write, so many lifecycles share one
/// transaction (the baseline shows one awaited write per event is ~50x slower than batched inserts), as one row
/// per frontend domain and lifecycle kind (<see cref="LifecycleEventBatch"/>);
/// a flush waits one thread-pool lap so records on their way join it (<see cref="ScheduleFlush"/>). On SQLite a
/// write goes to the database from a writer thread of the journal's own (<see cref="SqliteJournalAppender"/>), in
/// the journal plugin's rows; on other storage through Akka.Persistence. Recovery and snapshots are Akka.Persistence's.
/// The state is the index of live lifecycles, changed only by <see cref="Apply"/>; snapshots of it keep
/// recovery proportional to what is live.
/// </summary>
public sealed class LifecycleJournalActor : ReceivePersistentActor
{
    private readonly LifecycleJournal.Settings _settings;
    private readonly Dictionary<LifecycleId, LifecycleRecord> _live = [];
    private List<(Record Record, IActorRef Sender)> _queued = [];
    private List<(Record Record, IActorRef Sender)>? _inFlight;
    private List<LifecycleEvent>? _inFlightEvents;
    private bool _flushScheduled;
    private long _nextSequence = 1;
    private long _eventsSinceSnapshot;
    private long _eventsRecovered;
    private bool _fromSnapshot;
    private SqliteJournalAppender? _appender; // the SQLite write path, from recovery on; null: Akka.Persistence's
    private long _appendedThrough; // with an appender: the sequence number of the last event it wrote
    private long _flushedAt; // when the write in flight started (a stopwatch timestamp)

    /// <summary>Creates the journal.</summary>
    public LifecycleJournalActor(LifecycleJournal.Settings settings)
    {
        _settings = settings;
        Recover<SnapshotOffer>(offer =>
        {
            var snapshot = (Snapshot)offer.Snapshot;
            _live.Clear();
            foreach (var r in snapshot.Live) _live[r.Id] = r;
            _nextSequence = snapshot.NextSequence;
            _fromSnapshot = true;
        });
        Recover<LifecycleEventBatch>(b =>
        {
            _eventsRecovered += b.Events.Count;
            foreach (var e in b.Events) Apply(e);
        });
        Recover<LifecycleEvent>(e => // a row of one event
        {
            _eventsRecovered++;
            Apply(e);
        });
        Recover<RecoveryCompleted>(_ =>
        {
            // Writes go straight to SQLite when the journal plugin is ours (SqliteJournalAppender says why), numbered
            // on from the last event recovery found.
            if (SqliteJournalSetup.Of(Context.System, JournalPluginId) is { } setup)
            {
                _appendedThrough = LastSequenceNr;
                _appender = new SqliteJournalAppender(setup, (ExtendedActorSystem)Context.System, PersistenceId, LastSequenceNr,
                    setup.NewSnapshotWriter(Context.System, SnapshotPluginId));
            }
            Context.System.EventStream.Publish(new Recovered(_eventsRecovered, _fromSnapshot));
        });
        Command<Record>(OnRecord);
        Command<SqliteJournalAppender.Appended>(OnAppended);
        Command<SnapshotWritten>(m =>
        {
            if (m.Failure is not null) return; // retried with the next snapshot
            Context.System.EventStream.Publish(new SnapshotSaved(m.SequenceNr));
            Context.System.EventStream.Publish(new SnapshotsDeleted(m.SequenceNr - 1));
        });
        Command<FlushQueued>(_ =>
        {
            _flushScheduled = false;
            if (_inFlight is null) Flush();
        });
        Command<GetLive>(_ => Sender.Tell(new Live([.. _live.Values.OrderBy(r => r.Id.Sequence)], _nextSequence, _eventsRecovered, _fromSnapshot)));
        // Events stay for audit and replay; recovery needs only the newest snapshot, so older ones are deleted
        // (otherwise the snapshot store would grow by the whole live index with every snapshot).
        Command<SaveSnapshotSuccess>(ok =>
        {
            Context.System.EventStream.Publish(new SnapshotSaved(ok.Metadata.SequenceNr));
            DeleteSnapshots(new SnapshotSelectionCriteria(ok.Metadata.SequenceNr - 1));
        });
        Command<DeleteSnapshotsSuccess>(ok => Context.System.EventStream.Publish(new SnapshotsDeleted(ok.Criteria.MaxSequenceNr)));
        Command<DeleteSnapshotsFailure>(_ => { }); // retried with the next snapshot
        Command<SaveSnapshotFailure>(_ => { });
    }

    /// <inheritdoc />
    public override string PersistenceId => _settings.PersistenceId;

    private void OnRecord(Record record)
    {
        if (record.Events.Count == 0)
        {
            Sender.Tell(new Recorded(record.Correlation));
            return;
        }
        _queued.Add((record, Sender));
        if (_inFlight is null) ScheduleFlush();
    }

    /// <summary>Writes everything queued as one atomic write; the next flush starts when it completes.</summary>
    private void Flush()
    {
        if (_queued.Count == 0) return;
        var events = new List<LifecycleEvent>();
        int taken = 0;
        while (taken < _queued.Count && (events.Count == 0 || events.Count + _queued[taken].Record.Events.Count <= _settings.MaxBatch))
            events.AddRange(_queued[taken++].Record.Events);
        var batch = _queued.GetRange(0, taken);
        _queued.RemoveRange(0, taken);
        _inFlight = batch;
        _inFlightEvents = events;
        switch (_settings.Faults?.Invoke(events) ?? JournalWriteFault.None)
        {
            case JournalWriteFault.Reject:
                Rejected("injected rejection");
                return;
            case JournalWriteFault.Fail:
                StorageFailed("injected storage failure");
                Context.Stop(Self); // what Akka does after OnPersistFailure
                return;
        }
        _flushedAt = System.Diagnostics.Stopwatch.GetTimestamp();
        if (_appender is not null)
        {
            var records = new IReadOnlyList<LifecycleEvent>[batch.Count];
            for (int i = 0; i < batch.Count; i++) records[i] = batch[i].Item1.Events;
            var self = Self;
            _appender.Append(records, appended => self.Tell(appended, ActorRefs.NoSender));
            return;
        }
        var batches = LifecycleEventBatch.Of(events);
        int remaining = batches.Count;
        PersistAllAsync(batches, b =>
        {
            foreach (var e in b.Events) Apply(e);
            if (--remaining > 0) return;
            foreach (var (r, sender) in batch) sender.Tell(new Recorded(r.Correlation));
            Completed(events);
        });
    }

    /// <summary>The appender's answer to the write in flight: a storage failure stops the journal, as Akka's would; a record it could not serialize is rejected alone.</summary>
    private void OnAppended(SqliteJournalAppender.Appended m)
    {
        var batch = _inFlight!;
        if (m.Failure is not null)
        {
            Context.GetLogger().Error(m.Failure, "journal write failed");
            StorageFailed(m.Failure.Message);
            Context.Stop(Self);
            return;
        }
        _appendedThrough = m.LastSequenceNr;
        var written = new List<LifecycleEvent>(_inFlightEvents!.Count);
        for (int i = 0; i < batch.Count; i++)
        {
            var (record, sender) = batch[i];
            if (m.Rejections[i] is { } rejected)
            {
                sender.Tell(new RecordFailed(record.Correlation, $"journal rejected the write: {rejected.Message}"));
                continue;
            }
            foreach (var e in record.Events)
            {
                Apply(e);
                written.Add(e);
            }
            sender.Tell(new Recorded(record.Correlation));
        }
        Completed(written);
    }

    /// <summary>The write in flight is over and <paramref name="written"/> are durable and applied: the next one may go.</summary>
    private void Completed(List<LifecycleEvent> written)
    {
        _settings.Metrics?.JournalWritten(System.Diagnostics.Stopwatch.GetElapsedTime(_flushedAt), _inFlightEvents!.Count);
        if (written.Count > 0) Context.System.EventStream.Publish(new Written(written));
        _inFlight = null;
        _inFlightEvents = null;
        MaybeSnapshot();
        ScheduleFlush();
    }

    /// <summary>
    /// Flushes once the work already waiting for a thread has run: the flush is a work item queued at the back
    /// of the thread pool's global queue, which tells this actor to flush. When a write completes, the
    /// acknowledged lifecycles' next records are still on their way (their actors are queued to run); flushing
    /// at once would write the first of them alone and the rest in the next write. Waiting one lap lets them
    /// arrive and go out together: 6-11x fewer transactions in `bench journal` (docs/performance.md). Idle, the lap
    /// costs microseconds. Batching, not correctness, depends on the dispatcher running on the thread pool.
    /// </summary>
    private void ScheduleFlush()
    {
        if (_flushScheduled) return;
        _flushScheduled = true;
        ThreadPool.UnsafeQueueUserWorkItem(static self => self.Tell(FlushQueued.Instance), Self, preferLocal: false);
    }

    /// <summary>The appender saved the snapshot at <paramref name="SequenceNr"/> and deleted the older ones, or failed to.</summary>
    private sealed record SnapshotWritten(long SequenceNr, Exception? Failure);

    /// <summary>Sent by <see cref="ScheduleFlush"/>; dropped quietly if the journal stopped meanwhile.</summary>
    private sealed class FlushQueued : IDeadLetterSuppression
    {
        public static readonly FlushQueued Instance = new();
    }

    /// <summary>
    /// A snapshot holds every live lifecycle, so with many live it is large: taking one only after at least
    /// twice as many events as there are live lifecycles keeps its cost per event bounded (with 100,000 live,
    /// a snapshot every 10,000 events would write the whole index again for every 10,000 events).
    /// </summary>
    private void MaybeSnapshot()
    {
        if (_eventsSinceSnapshot < Math.Max(_settings.SnapshotEvery, 2L * _live.Count)) return;
        _eventsSinceSnapshot = 0;
        var snapshot = new Snapshot([.. _live.Values], _nextSequence);
        if (_appender is null) SaveSnapshot(snapshot);
        else if (_appender.SavesSnapshots)
        {
            // On the writer thread, between two writes: the snapshot store's own connection would wait for a lock
            // the writer keeps taking (SqliteSnapshotWriter), and the older snapshots go in the same transaction.
            var self = Self;
            long at = _appendedThrough;
            _appender.SaveSnapshot(at, snapshot, failure => self.Tell(new SnapshotWritten(at, failure), ActorRefs.NoSender));
        }
        // Akka's SaveSnapshot numbers a snapshot by what this actor persisted itself: the appender's events are not counted there.
        else SnapshotStore.Tell(new SaveSnapshot(new SnapshotMetadata(PersistenceId, _appendedThrough, DateTime.UtcNow), snapshot));
    }

    /// <summary>The only place the index changes.</summary>
    private void Apply(LifecycleEvent e)
    {
        _eventsSinceSnapshot++;
        if (e.Id.Sequence >= _nextSequence) _nextSequence = e.Id.Sequence + 1;
        if (!_live.TryGetValue(e.Id, out var r))
        {
            // An event after the terminal one would resurrect a finished lifecycle: only opening events start one.
            if (!e.Opens) return;
            r = LifecycleRecord.Start(e.Id, e.At);
        }
        var record = r.Apply(e);
        if (e.IsTerminal) _live.Remove(e.Id);
        else _live[e.Id] = record;
    }

    /// <inheritdoc />
    protected override void PostStop()
    {
        _appender?.Dispose(); // what it has queued is written first: nothing is, once a write failed
        base.PostStop();
    }

    /// <summary>A rejected write (e.g. not serializable) leaves the journal usable: its callers are told, the next batch goes.</summary>
    protected override void OnPersistRejected(Exception cause, object @event, long sequenceNr)
    {
        // Called once per row of the rejected atomic write: act on the first, for the write in flight.
        object first = @event is LifecycleEventBatch b ? b.Events[0] : @event;
        if (_inFlightEvents is null || !_inFlightEvents.Exists(e => ReferenceEquals(e, first))) return;
        Rejected(cause.Message);
    }

    private void Rejected(string cause)
    {
        FailInFlight($"journal rejected the write: {cause}");
        Flush();
    }

    /// <summary>A failed write stops the journal (Akka's rule; its supervisor starts it again); every caller waiting on it is told first.</summary>
    protected override void OnPersistFailure(Exception cause, object @event, long sequenceNr)
    {
        StorageFailed(cause.Message);
        base.OnPersistFailure(cause, @event, sequenceNr);
    }

    private void StorageFailed(string cause)
    {
        FailInFlight($"journal write failed: {cause}");
        foreach (var (r, sender) in _queued) sender.Tell(new RecordFailed(r.Correlation, "journal stopped after a write failure"));
        _queued = [];
    }

    private void FailInFlight(string reason)
    {
        foreach (var (r, sender) in _inFlight ?? []) sender.Tell(new RecordFailed(r.Correlation, reason));
        _inFlight = null;
        _inFlightEvents = null;
    }
}
