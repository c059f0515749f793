using System.Collections.Concurrent;
using Akka.Actor;

namespace BufferActors.Actors.Persistence;

/// <summary>
/// The lifecycle journal's write path on SQLite: a writer thread of its own that turns each group of records into the
/// rows the journal plugin would write (<see cref="SqliteJournalRowEncoder"/>) and inserts them in one transaction
/// (<see cref="SqliteJournalWriter"/>), then calls back. Going through Akka.Persistence instead costs a write five
/// more hand-offs between threads (the plugin actor, its write task, one acknowledgement per event) — most of a
/// write's time when lifecycles wait for it one at a time (docs/performance.md, "Journaled lifecycles"). The rows are
/// the plugin's, so recovery, queries and replay read them as before; the thread also takes serialization off the
/// journal actor and the lifecycles' threads.
/// </summary>
/// <remarks>
/// One group is written at a time, in the order given. Sequence numbers are this appender's: it continues from the
/// number it is started at and advances only on a commit, so a failed write leaves no gap and no row.
/// </remarks>
internal sealed class SqliteJournalAppender : IDisposable
{
    private readonly SqliteJournalWriter _writer;
    private readonly SqliteJournalRowEncoder _encoder;
    private readonly string _persistenceId;
    private readonly SqliteSnapshotWriter? _snapshots;
    private readonly BlockingCollection<Action> _work = []; // writes and snapshots, run in order on the writer thread
    private readonly List<SqliteJournalRow> _rows = [];
    private readonly Dictionary<(DomainId, LifecycleKind), string> _tags = [];
    private long _lastSequenceNr;

    /// <summary>Starts the writer thread; the first row written gets <paramref name="lastSequenceNr"/> + 1.</summary>
    /// <param name="setup">The journal plugin's setup.</param>
    /// <param name="system">The actor system whose serializers write the payloads.</param>
    /// <param name="persistenceId">The journal's persistence id.</param>
    /// <param name="lastSequenceNr">The last sequence number recovery found.</param>
    /// <param name="snapshots">Where <see cref="SaveSnapshot"/> writes, if snapshots are saved here (closed with the appender).</param>
    public SqliteJournalAppender(SqliteJournalSetup setup, ExtendedActorSystem system, string persistenceId, long lastSequenceNr, SqliteSnapshotWriter? snapshots)
    {
        _snapshots = snapshots;
        _writer = setup.NewWriter();
        _encoder = setup.NewEncoder(system);
        _persistenceId = persistenceId;
        _lastSequenceNr = lastSequenceNr;
        new Thread(Run) { IsBackground = true, Name = "bufferactors-journal-writer" }.Start();
    }

    /// <summary>What a write did: per record, null when written or why it was rejected; or the failure that wrote nothing.</summary>
    /// <param name="Rejections">Per record in order: null when its events are durable, else why they were not serialized (nothing of that record is written).</param>
    /// <param name="LastSequenceNr">The sequence number of the last row written so far.</param>
    /// <param name="Failure">The storage failed: nothing of the group is written.</param>
    internal sealed record Appended(Exception?[] Rejections, long LastSequenceNr, Exception? Failure);

    /// <summary>Queues <paramref name="records"/> (each all or nothing) to be written in one transaction; <paramref name="done"/> is called on the writer thread.</summary>
    public void Append(IReadOnlyList<IReadOnlyList<LifecycleEvent>> records, Action<Appended> done) => _work.Add(() => done(Write(records)));

    /// <summary>
    /// Queues <paramref name="snapshot"/>, taken when every event up to <paramref name="sequenceNr"/> was applied, to be
    /// saved after the writes queued before it, the older snapshots deleted; <paramref name="done"/> is called on the
    /// writer thread with null or what failed (the snapshots then stay as they were).
    /// </summary>
    /// <exception cref="InvalidOperationException">The appender was made without a snapshot writer.</exception>
    public void SaveSnapshot(long sequenceNr, object snapshot, Action<Exception?> done)
    {
        var writer = _snapshots ?? throw new InvalidOperationException("this appender does not save snapshots");
        _work.Add(() =>
        {
            Exception? failed = null;
            try
            {
                writer.Save(_encoder.Encode(_persistenceId, sequenceNr, DateTime.UtcNow.Ticks, snapshot, string.Empty));
            }
#pragma warning disable CA1031 // a failed snapshot is reported to the journal, which takes the next one later
            catch (Exception e)
#pragma warning restore CA1031
            {
                failed = e;
            }
            done(failed);
        });
    }

    /// <summary>True when snapshots are saved here (<see cref="SaveSnapshot"/>).</summary>
    public bool SavesSnapshots => _snapshots is not null;

    /// <summary>Writes what is queued, then closes the database; returns at once.</summary>
    public void Dispose() => _work.CompleteAdding();

    private void Run()
    {
        try
        {
            foreach (var work in _work.GetConsumingEnumerable()) work();
        }
        finally
        {
            _writer.Dispose();
            _snapshots?.Dispose();
        }
    }

    /// <summary>
    /// The tags column of <paramref name="e"/>, once per domain and kind: in the order the plugin writes them, that of
    /// the set its event adapter's tags are in, so that a row is the plugin's to the byte.
    /// </summary>
    private string TagsOf(LifecycleEvent e)
    {
        var key = (e.Id.Domain, e.Id.Kind);
        if (!_tags.TryGetValue(key, out var csv))
            _tags[key] = csv = _encoder.Csv(System.Collections.Immutable.ImmutableHashSet.Create(LifecycleTagging.TagsOf(e)));
        return csv;
    }

    private Appended Write(IReadOnlyList<IReadOnlyList<LifecycleEvent>> records)
    {
        var rejections = new Exception?[records.Count];
        long now = DateTime.UtcNow.Ticks; // the plugin's `created`: the write's time
        try
        {
            Encode(records, rejections, now);
        }
        catch (Exception)
        {
            // All or nothing per record: find the records that cannot be serialized, reject them alone, write the rest.
            for (int r = 0; r < records.Count; r++)
            {
                try
                {
                    foreach (var batch in LifecycleEventBatch.Of(records[r])) _encoder.Encode(_persistenceId, 0, now, batch, string.Empty);
                }
                catch (Exception e)
                {
                    rejections[r] = e;
                }
            }
            try
            {
                Encode(records, rejections, now);
            }
            catch (Exception e)
            {
                // Each record serialized alone but not together: none is written.
                for (int r = 0; r < records.Count; r++) rejections[r] ??= e;
                _rows.Clear();
            }
        }
        try
        {
            if (_rows.Count > 0) _writer.Write(_rows, CancellationToken.None);
        }
        catch (Exception e)
        {
            return new Appended(rejections, _lastSequenceNr, e);
        }
        _lastSequenceNr += _rows.Count;
        return new Appended(rejections, _lastSequenceNr, null);
    }

    /// <summary>The rows of the records not rejected: a row per domain and kind (<see cref="LifecycleEventBatch"/>), numbered on from the last row written.</summary>
    private void Encode(IReadOnlyList<IReadOnlyList<LifecycleEvent>> records, Exception?[] rejections, long now)
    {
        _rows.Clear();
        long next = _lastSequenceNr;
        foreach (var batch in LifecycleEventBatch.Of(Accepted(records, rejections)))
            _rows.Add(_encoder.Encode(_persistenceId, ++next, now, batch, TagsOf(batch.Events[0])));
    }

    private static IEnumerable<LifecycleEvent> Accepted(IReadOnlyList<IReadOnlyList<LifecycleEvent>> records, Exception?[] rejections)
    {
        for (int r = 0; r < records.Count; r++)
        {
            if (rejections[r] is not null) continue;
            foreach (var e in records[r]) yield return e;
        }
    }
}
