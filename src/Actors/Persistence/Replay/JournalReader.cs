using Akka.Configuration;
using Akka.Persistence.Query;
using Akka.Persistence.Sql.Journal;
using Akka.Persistence.Sql.Query;
using Akka.Streams;

namespace BufferActors.Actors.Persistence.Replay;

/// <summary>
/// Reads every event of the lifecycle journal after checking the database is a readable journal: a SQLite file straight
/// from its table, PostgreSQL with Akka.Persistence.Query (<c>CurrentEventsByPersistenceId</c> on the SQL read journal)
/// in a short-lived actor system of its own. Reading never writes: tables are not created, a missing file is not created.
/// </summary>
public static class JournalReader
{
    /// <summary>The persistence id every lifecycle event is journaled under.</summary>
    public static string PersistenceId { get; } = new LifecycleJournal.Settings().PersistenceId;

    /// <summary>Where <paramref name="storage"/> is, for people: a SQLite file's full path, or a PostgreSQL host and database (never the password).</summary>
    public static string Describe(JournalStorage storage) => JournalPreflight.Describe(storage);

    /// <summary>Reads the journal and rebuilds every lifecycle's timeline.</summary>
    /// <inheritdoc cref="ReadAsync" path="/param"/>
    /// <inheritdoc cref="ReadAsync" path="/exception"/>
    public static async Task<JournalTimeline> ReadTimelineAsync(JournalStorage storage, CancellationToken cancellationToken = default) =>
        JournalTimeline.Build(await ReadAsync(storage, cancellationToken).ConfigureAwait(false));

    /// <summary>Reads every event journaled under <see cref="PersistenceId"/>, in sequence order.</summary>
    /// <param name="storage">A SQLite file or a PostgreSQL database (as parsed by <see cref="JournalStorage.Parse"/>).</param>
    /// <param name="cancellationToken">Stops the read; the actor system is shut down either way.</param>
    /// <exception cref="JournalUnreadableException">The journal cannot be read at all (missing, empty, not SQLite, truncated, corrupt, no journal table, unreachable).</exception>
    /// <exception cref="JournalFormatException">An event's payload cannot be read; the message names its sequence number.</exception>
    public static async Task<IReadOnlyList<JournalEntry>> ReadAsync(JournalStorage storage, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(storage);
        JournalPreflight.Check(storage);
        string where = JournalPreflight.Describe(storage);
        if (storage is JournalStorage.Sqlite sqlite)
            return await Task.Run(() => ReadSqlite(sqlite, where, cancellationToken), cancellationToken).ConfigureAwait(false);

        ActorSystem system;
        try
        {
            system = ActorSystem.Create("bufferactors-replay", ReplayConfig(storage));
        }
        catch (Exception e) when (e is ConfigurationException or ArgumentException or TypeLoadException)
        {
            throw new JournalUnreadableException($"cannot configure a reader for {where}: {e.Message}", e);
        }

        var entries = new List<JournalEntry>();
        try
        {
            var journal = PersistenceQuery.Get(system).ReadJournalFor<SqlReadJournal>(SqlReadJournal.Identifier);
            var done = journal
                .CurrentEventsByPersistenceId(PersistenceId, 0L, long.MaxValue)
                .RunForeach(envelope => AddEntries(entries, envelope.SequenceNr, envelope.Event), system.Materializer());
            await done.WaitAsync(cancellationToken).ConfigureAwait(false);
            return entries;
        }
        catch (Exception e) when (Unwrap(e) is JournalFormatException format)
        {
            throw new JournalFormatException($"{where}: {format.Message}");
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // Preflight has ruled out the usual causes; anything left (a plugin or driver error mid-read) is still
            // an unreadable journal, reported with the last event that was read.
            var cause = Unwrap(e);
            string after = entries.Count == 0 ? "before the first event" : $"after event {entries[^1].SequenceNr}";
            throw new JournalUnreadableException($"reading {where} failed {after}: {cause.GetType().Name}: {cause.Message}", cause);
        }
        finally
        {
            await system.Terminate().WaitAsync(TimeSpan.FromSeconds(10), CancellationToken.None)
                .ContinueWith(_ => { }, TaskScheduler.Default).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// A SQLite journal read straight from its table (<see cref="SqliteJournalReader"/>, as recovery reads it), without
    /// an actor system: several times the events per second of the query stream, and nothing started but a connection.
    /// </summary>
    private static List<JournalEntry> ReadSqlite(JournalStorage.Sqlite storage, string where, CancellationToken cancellationToken)
    {
        var entries = new List<JournalEntry>();
        var reader = SqliteJournalSetup.Parse(storage.ToConfig().GetConfig("akka.persistence.journal.sql")).NewReader(ReadPayload);
        try
        {
            reader.Replay(PersistenceId, 0, long.MaxValue, long.MaxValue, p => AddEntries(entries, p.SequenceNr, p.Payload), cancellationToken);
            return entries;
        }
        catch (JournalFormatException format)
        {
            throw new JournalFormatException($"{where}: {format.Message}");
        }
        catch (Microsoft.Data.Sqlite.SqliteException e)
        {
            string after = entries.Count == 0 ? "before the first event" : $"after event {entries[^1].SequenceNr}";
            throw new JournalUnreadableException($"reading {where} failed {after}: {e.GetType().Name}: {e.Message}", e);
        }
    }

    /// <summary>A row's payload as replay reads it: never throws, so that a payload that does not read is named with its sequence number.</summary>
    private static object ReadPayload(byte[] bytes, int serializerId, string manifest)
    {
        if (serializerId != JournalSerializer.Id) return new UnreadablePayload(manifest, $"written by serializer {serializerId}, not the journal's ({JournalSerializer.Id})");
        try
        {
            return JournalSerializer.Read(bytes, manifest);
        }
        catch (JournalFormatException e)
        {
            return new UnreadablePayload(manifest, e.Message);
        }
    }

    /// <summary>
    /// Adds the events of the row at <paramref name="rowSequenceNr"/>, numbered on from the last entry: an event's
    /// number is its position in the journal, counting every event of every row (a row holds one event or a batch).
    /// </summary>
    private static void AddEntries(List<JournalEntry> entries, long rowSequenceNr, object payload)
    {
        long next = entries.Count == 0 ? 1 : entries[^1].SequenceNr + 1;
        switch (payload)
        {
            case LifecycleEventBatch batch:
                foreach (var e in batch.Events) entries.Add(new JournalEntry(next++, e));
                break;
            case LifecycleEvent e:
                entries.Add(new JournalEntry(next, e));
                break;
            case UnreadablePayload u:
                throw new JournalFormatException($"the row at sequence {rowSequenceNr} (after event {next - 1}, manifest '{u.Manifest}') cannot be read: {u.Reason}");
            default:
                throw new JournalFormatException($"the row at sequence {rowSequenceNr} (after event {next - 1}) is a {payload?.GetType().Name ?? "null"}, not lifecycle events");
        }
    }

    /// <summary>
    /// The storage's own journal and read-journal configuration with table creation switched off, Akka silent
    /// on stdout (replay's output may be one JSON document), <see cref="ReplaySerializer"/> in place of the
    /// journal serializer, and the stock write plugin (replay never writes, and the reader starts it for its
    /// event adapters). A journal from before tags moved into the journal row is read as it was written
    /// (TagTable mode), not upgraded: reading never changes the database.
    /// </summary>
    private static Config ReplayConfig(JournalStorage storage)
    {
        var tagTableLayout = JournalPreflight.HasTagTableLayout(storage)
            ? """
              akka.persistence.journal.sql.tag-write-mode = TagTable
              akka.persistence.query.journal.sql.tag-read-mode = TagTable
              """
            : "";
        var hocon = $$"""
            akka.loglevel = OFF
            akka.stdout-loglevel = OFF
            akka.log-dead-letters = off
            akka.log-dead-letters-during-shutdown = off
            akka.persistence.journal.sql.class = "{{typeof(SqlWriteJournal).FullName}}, {{typeof(SqlWriteJournal).Assembly.GetName().Name}}"
            akka.persistence.journal.sql.auto-initialize = off
            akka.persistence.snapshot-store.sql.auto-initialize = off
            {{tagTableLayout}}
            akka.actor.serializers.bufferactors-journal = "{{typeof(ReplaySerializer).FullName}}, {{typeof(ReplaySerializer).Assembly.GetName().Name}}"
            """;
        return ConfigurationFactory.ParseString(hocon).WithFallback(storage.ToConfig());
    }

    private static Exception Unwrap(Exception e)
    {
        while (true)
        {
            switch (e)
            {
                case AggregateException { InnerExceptions.Count: 1 } a:
                    e = a.InnerExceptions[0];
                    continue;
                case System.Reflection.TargetInvocationException { InnerException: { } inner }:
                    e = inner;
                    continue;
                default:
                    return e;
            }
        }
    }
}
