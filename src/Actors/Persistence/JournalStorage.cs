using System.Text.Encodings.Web;
using System.Text.Json;
using Akka.Configuration;
using Akka.Persistence.Sql;
using Microsoft.Data.Sqlite;
using Npgsql;

namespace BufferActors.Actors.Persistence;

/// <summary>Where the lifecycle journal lives, and the Akka configuration for it.</summary>
public abstract record JournalStorage
{
    /// <summary>An embedded SQLite file (the default). Tables are created automatically.</summary>
    public sealed record Sqlite(string Path) : JournalStorage
    {
        /// <summary>What an acknowledged write survives: <see cref="JournalDurability.Process"/> by default.</summary>
        public JournalDurability Durability { get; init; } = JournalDurability.Process;
    }

    /// <summary>A PostgreSQL database, by Npgsql connection string. Tables are created automatically.</summary>
    public sealed record PostgreSql(string ConnectionString) : JournalStorage;

    /// <summary>In memory, for tests: lost with the actor system.</summary>
    public sealed record InMemory : JournalStorage;

    /// <summary>
    /// Parses a <c>--journal</c> argument: a PostgreSQL connection string (it contains <c>Host=</c>), or
    /// else a path to a SQLite file.
    /// </summary>
    public static JournalStorage Parse(string location) =>
        location.Contains("Host=", StringComparison.OrdinalIgnoreCase) ? new PostgreSql(location) : new Sqlite(location);

    /// <summary>
    /// The HOCON that makes Akka.Persistence use this storage, with the journal's serializer and tagging; for
    /// SQL storage also the Akka.Persistence.Query read journal (<c>akka.persistence.query.journal.sql</c>) on
    /// the same database, reading tags where the journal writes them.
    /// </summary>
    public Config ToConfig()
    {
        const string events = "\"BufferActors.Actors.Persistence.LifecycleEvent, BufferActors.Actors\"";
        const string snapshots = "\"BufferActors.Actors.Persistence.LifecycleJournal+Snapshot, BufferActors.Actors\"";
        const string batches = "\"BufferActors.Actors.Persistence.LifecycleEventBatch, BufferActors.Actors\"";
        var (journalPlugin, snapshotPlugin, journal, snapshot, common, query) = this switch
        {
            Sqlite s => ("sql", "sql",
                // Tags go in the journal row (Csv), written by SqliteBatchWriteJournal's prepared statements: the
                // tag-table rows and the plugin's per-event inserts were most of the journal's cost (docs/performance.md).
                $"class = {Hocon(typeof(SqliteBatchWriteJournal))}\ntag-write-mode = Csv\n{SqliteBatchWriteJournal.DurabilityKey} = {s.Durability.ToString().ToLowerInvariant()}",
                // Its load read straight from the table: the first step of every recovery, without linq2db's first query.
                $"class = {Hocon(typeof(SqliteSnapshotStore))}",
                // SQLite has one writer: one connection at a time; batches do the rest.
                // Tables are created by Prepare() (SqliteJournalSchema), not by the plugins through linq2db.
                $"connection-string = {Hocon(SqliteConnectionString(s.Path))}\nprovider-name = \"SQLite.MS\"\nparallelism = 1\nauto-initialize = off",
                "tag-read-mode = Csv"),
            PostgreSql p => ("sql", "sql",
                // Tags in the journal row here too: the plugin then inserts each write's rows in bulk, ~3x the events/s
                // of tag-table rows even with batched tag inserts (bench journal --journal, docs/performance.md).
                "tag-write-mode = Csv",
                "",
                $"connection-string = {Hocon(p.ConnectionString)}\nprovider-name = \"PostgreSQL15\"\nauto-initialize = on",
                "tag-read-mode = Csv"),
            _ => ("inmem", "inmem", "", "", "", null),
        };
        var hocon = $$"""
            akka.persistence.journal.plugin = "akka.persistence.journal.{{journalPlugin}}"
            akka.persistence.snapshot-store.plugin = "akka.persistence.snapshot-store.{{snapshotPlugin}}"
            akka.persistence.journal.{{journalPlugin}} {
              {{common}}
              {{journal}}
              event-adapters { lifecycle-tags = "BufferActors.Actors.Persistence.LifecycleTagging, BufferActors.Actors" }
              event-adapter-bindings { {{events}} = lifecycle-tags, {{batches}} = lifecycle-tags }
            }
            akka.persistence.snapshot-store.{{snapshotPlugin}} {
              {{common}}
              {{snapshot}}
            }
            akka.actor.serializers.bufferactors-journal = "BufferActors.Actors.Persistence.JournalSerializer, BufferActors.Actors"
            akka.actor.serialization-bindings {
              {{events}} = bufferactors-journal
              {{batches}} = bufferactors-journal
              {{snapshots}} = bufferactors-journal
            }
            """;
        if (query is not null)
            hocon += $$"""

                akka.persistence.query.journal.sql {
                  write-plugin = "akka.persistence.journal.sql"
                  {{common}}
                  {{query}}
                }
                """;
        var config = ConfigurationFactory.ParseString(hocon);
        return query is null ? config : config.WithFallback(SqlPersistence.DefaultConfiguration).WithFallback(SqlPersistence.DefaultQueryConfiguration);
    }

    /// <summary>How long a journal's recovery waits for each snapshot load and replayed event by default (Akka's <c>recovery-event-timeout</c>).</summary>
    public static TimeSpan DefaultRecoveryStepTimeout { get; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// HOCON that lets the journal's recovery wait <paramref name="timeout"/> for each snapshot load and replayed
    /// event instead of <see cref="DefaultRecoveryStepTimeout"/>: where storage or the machine is slow (an emulated
    /// CPU compiling the SQL plugin at first use), a recovery that times out only starts again, slower still.
    /// </summary>
    public Config RecoveryStepTimeoutConfig(TimeSpan timeout) => ConfigurationFactory.ParseString(
        $"akka.persistence.journal.{(this is InMemory ? "inmem" : "sql")}.recovery-event-timeout = {(long)Math.Ceiling(timeout.TotalMilliseconds)}ms");

    /// <summary>
    /// Prepares the storage before a journal writes to it, and proves that it can be written. A SQLite file:
    /// creates its folder, switches it to WAL (so readers such as replay never block the writer and commits do
    /// not fsync the whole database) and takes the write lock for one write that it rolls back, so a read-only or
    /// immutable file or a full disk is found here rather than at the first lifecycle.
    /// Both SQL storages: upgrades a database written when tags were tag-table rows to the tags column the
    /// journal now writes (<see cref="JournalTagLayout.UpgradeToCsv"/>). Required before <see cref="ToConfig"/>
    /// is used on an existing database. A PostgreSQL server that cannot be reached is left to the plugin, which
    /// retries as before.
    /// </summary>
    /// <exception cref="JournalUnavailableException">The journal cannot be created or written; nothing was started.</exception>
    public void Prepare()
    {
        switch (this)
        {
            case Sqlite s:
                PrepareSqlite(s.Path);
                break;
            case PostgreSql p:
                using (var connection = new NpgsqlConnection(p.ConnectionString))
                {
                    try
                    {
                        connection.Open();
                    }
                    catch (NpgsqlException)
                    {
                        return;
                    }
                    try
                    {
                        JournalTagLayout.UpgradeToCsv(connection);
                    }
                    catch (NpgsqlException e)
                    {
                        throw new JournalUnavailableException($"{connection.Host}:{connection.Port}/{connection.Database}", e.Message, e);
                    }
                }
                break;
        }
    }

    private static void PrepareSqlite(string path)
    {
        string full;
        try
        {
            full = System.IO.Path.GetFullPath(path);
        }
        catch (Exception e) when (e is ArgumentException or NotSupportedException or PathTooLongException)
        {
            throw new JournalUnavailableException(path, $"not a usable path ({e.Message})", e);
        }
        if (Directory.Exists(full)) throw new JournalUnavailableException(full, "it is a folder, not a file");
        var folder = System.IO.Path.GetDirectoryName(full);
        try
        {
            if (folder is not null) Directory.CreateDirectory(folder);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new JournalUnavailableException(full, $"its folder {folder} cannot be created ({e.Message})", e);
        }
        // Not pooled: the file is closed (and its WAL folded) when Prepare returns, before the plugin opens it.
        using var connection = new SqliteConnection(new SqliteConnectionStringBuilder(SqliteConnectionString(path)) { Pooling = false }.ToString());
        try
        {
            connection.Open();
            using (var command = connection.CreateCommand())
            {
                command.CommandText = "PRAGMA journal_mode=WAL;";
                command.ExecuteNonQuery();
            }
            JournalTagLayout.UpgradeToCsv(connection);
            using (var transaction = connection.BeginTransaction(deferred: false))
            {
                SqliteJournalSchema.Create(connection, transaction); // the plugins start with auto-initialize = off
                transaction.Commit();
            }
            using (var probe = connection.CreateCommand())
            {
                // The write lock and a write, rolled back: a read-only or immutable file or a full disk fails it
                // here, and the file is left exactly as the plugin expects to find it.
                using var transaction = connection.BeginTransaction(deferred: false);
                probe.Transaction = transaction;
                probe.CommandText = "CREATE TABLE bufferactors_write_probe (x INTEGER);";
                probe.ExecuteNonQuery();
                transaction.Rollback();
            }
        }
        catch (SqliteException e)
        {
            throw new JournalUnavailableException(full, SqliteReason(e), e);
        }
    }

    /// <summary>The SQLite result code behind a failed open or write, in an operator's words.</summary>
    private static string SqliteReason(SqliteException e) => (e.SqliteErrorCode & 0xFF) switch
    {
        3 => $"permission denied ({e.Message})",                                   // SQLITE_PERM
        8 => $"the file is read-only or immutable ({e.Message})",                   // SQLITE_READONLY
        10 => $"an I/O error ({e.Message})",                                        // SQLITE_IOERR
        13 => $"the disk is full ({e.Message})",                                    // SQLITE_FULL
        14 => $"the file cannot be opened or created ({e.Message})",               // SQLITE_CANTOPEN
        26 => $"the file is not a SQLite database ({e.Message})",                  // SQLITE_NOTADB
        _ => e.Message,
    };

    private static string SqliteConnectionString(string path) => $"Data Source={path}";

    /// <summary>A HOCON quoted string (a JSON string is one), whatever the path or password contains.</summary>
    internal static string Hocon(string value) =>
        JsonSerializer.Serialize(value, new JsonSerializerOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping });

    private static string Hocon(Type type) => Hocon($"{type.FullName}, {type.Assembly.GetName().Name}");
}
