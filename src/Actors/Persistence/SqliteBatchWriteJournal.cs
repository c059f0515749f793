using System.Collections.Immutable;
using Akka.Actor;
using Akka.Configuration;
using Akka.Persistence;
using Akka.Persistence.Journal;
using Akka.Persistence.Sql;
using Akka.Persistence.Sql.Config;
using Akka.Persistence.Sql.Journal;
using Akka.Serialization;
using Akka.Util;

namespace BufferActors.Actors.Persistence;

/// <summary>
/// The Akka.Persistence.Sql journal for SQLite with a faster write path: each <c>WriteMessagesAsync</c>
/// call is one transaction of one prepared INSERT per event (Microsoft.Data.Sqlite), instead of the
/// plugin's per-event linq2db inserts, which cost about half the journal's throughput
/// (docs/performance.md, "Journal"). Everything else — schema and table creation, replay, highest
/// sequence number, deletes, and the query side — is the stock plugin's, and the rows are the ones it
/// writes in <c>tag-write-mode = Csv</c>: same columns, serializer, manifest, <c>created</c> ticks,
/// writer uuid and Csv tags (<c>;tag1;tag2;</c>), so the stock reader cannot tell them apart.
/// </summary>
/// <remarks>
/// Configure as the SQL journal's <c>class</c> with <c>provider-name</c> a SQLite provider and
/// <c>tag-write-mode = Csv</c> (it writes no tag-table rows, so other modes are refused at start).
/// An atomic write that cannot be serialized is rejected on its own; a database error fails the whole call.
/// Not sealed so that the journal bench can time its writes in a subclass.
/// </remarks>
public class SqliteBatchWriteJournal : SqlWriteJournal
{
    private readonly SqliteJournalRowEncoder _encoder;
    private readonly SqliteJournalWriter _writer;
    private readonly SqliteJournalReader _reader;
    private readonly Lock _order = new();
    private Task _lastWrite = Task.CompletedTask;

    /// <summary>Created by Akka.Persistence from the journal plugin's configuration section.</summary>
    public SqliteBatchWriteJournal(Config journalConfig) : base(journalConfig)
    {
        var setup = SqliteJournalSetup.Parse(journalConfig);
        _encoder = setup.NewEncoder((ExtendedActorSystem)Context.System);
        _writer = setup.NewWriter();
        _reader = setup.NewReader((ExtendedActorSystem)Context.System);
    }

    /// <summary>The journal section's key naming its <see cref="JournalDurability"/> (<c>process</c> or <c>power</c>).</summary>
    internal const string DurabilityKey = SqliteJournalSetup.DurabilityKey;

    /// <inheritdoc />
    protected override Task<IImmutableList<Exception>> WriteMessagesAsync(IEnumerable<AtomicWrite> messages, CancellationToken cancellationToken)
    {
        // Serialized here, on the caller's thread, so a failure is known per atomic write before anything is written.
        var (rows, rejections) = Serialize(messages);
        lock (_order)
        {
            // Calls arrive one at a time but their tasks may overlap: each write starts after the previous one
            // ends, so the connection is used by one write at a time and writes commit in call order.
            var write = WriteAfter(_lastWrite, rows, rejections, cancellationToken);
            _lastWrite = write;
            return write;
        }
    }

    /// <summary>
    /// Read straight from SQLite (<see cref="SqliteJournalReader"/>), after the writes still running: a restarting
    /// persistent actor may recover while its last writes are in flight, and answering before they end could hand
    /// out their sequence numbers again (the plugin waits the same way for its own writes).
    /// </summary>
    public override async Task<long> ReadHighestSequenceNrAsync(string persistenceId, long fromSequenceNr, CancellationToken cancellationToken)
    {
        await PendingWrites().ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing | ConfigureAwaitOptions.ForceYielding);
        return _reader.HighestSequenceNr(persistenceId);
    }

    /// <summary>Read straight from SQLite (<see cref="SqliteJournalReader"/>): the events as the plugin replays them, at the speed SQLite reads them.</summary>
    public override async Task ReplayMessagesAsync(IActorContext context, string persistenceId, long fromSequenceNr, long toSequenceNr, long max, Action<IPersistentRepresentation> recoveryCallback)
    {
        await PendingWrites().ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing | ConfigureAwaitOptions.ForceYielding);
        _reader.Replay(persistenceId, fromSequenceNr, toSequenceNr, max, recoveryCallback, CancellationToken.None);
    }

    private Task PendingWrites()
    {
        lock (_order) return _lastWrite;
    }

    /// <inheritdoc />
    protected override void PostStop()
    {
        Task pending;
        lock (_order) pending = _lastWrite;
        // A write still running owns the connection: it is closed once that write ends.
        pending.ContinueWith(_ => _writer.Dispose(), CancellationToken.None, TaskContinuationOptions.None, TaskScheduler.Default);
        base.PostStop();
    }

    private async Task<IImmutableList<Exception>> WriteAfter(Task previous, List<SqliteJournalRow> rows, IImmutableList<Exception> rejections, CancellationToken cancellationToken)
    {
        // ForceYielding: the database work never runs on the journal actor's thread.
        await previous.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing | ConfigureAwaitOptions.ForceYielding);
        if (rows.Count > 0) _writer.Write(rows, cancellationToken);
        return rejections;
    }

    private async Task<long> ReadHighestAfter(Task pending, string persistenceId, long fromSequenceNr, CancellationToken cancellationToken)
    {
        await pending.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        return await base.ReadHighestSequenceNrAsync(persistenceId, fromSequenceNr, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The rows of every atomic write that serializes, and per atomic write its rejection (null when accepted).</summary>
    private (List<SqliteJournalRow> Rows, IImmutableList<Exception> Rejections) Serialize(IEnumerable<AtomicWrite> messages)
    {
        long now = DateTime.UtcNow.Ticks; // the plugin's `created` for events without a timestamp of their own
        var rows = new List<SqliteJournalRow>();
        var rejections = ImmutableList.CreateBuilder<Exception>();
        foreach (var write in messages)
        {
            int first = rows.Count;
            try
            {
                if (write.Payload is not IImmutableList<IPersistentRepresentation> payloads)
                    throw new ArgumentException($"{write.PersistenceId}: no events for sequence numbers {write.LowestSequenceNr}-{write.HighestSequenceNr}");
                foreach (var p in payloads) rows.Add(ToRow(p, now));
                rejections.Add(null!);
            }
            catch (Exception e)
            {
                // All or nothing per atomic write: drop the rows of it that did serialize.
                rows.RemoveRange(first, rows.Count - first);
                rejections.Add(e);
            }
        }
        return (rows, rejections.ToImmutable());
    }

    private SqliteJournalRow ToRow(IPersistentRepresentation p, long now)
    {
        var (payload, tags) = p.Payload is Tagged tagged ? (tagged.Payload, tagged.Tags) : (p.Payload, ImmutableHashSet<string>.Empty);
        return _encoder.Encode(p.PersistenceId, p.SequenceNr, p.Timestamp == 0 ? now : p.Timestamp, payload, tags);
    }
}
