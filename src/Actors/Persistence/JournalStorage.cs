using Akka.Configuration;
using Microsoft.Data.Sqlite;

namespace BufferActors.Actors.Persistence;

/// <summary>Where the lifecycle journal lives, and the Akka configuration for it.</summary>
public abstract record JournalStorage
{
    /// <summary>An embedded SQLite file (the default). Tables are created automatically.</summary>
    public sealed record Sqlite(string Path) : JournalStorage;

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

    /// <summary>The HOCON that makes Akka.Persistence use this storage, with the journal's serializer and tagging.</summary>
    public Config ToConfig()
    {
        var (plugin, snapshot, sql) = this switch
        {
            Sqlite s => ("akka.persistence.journal.sql", "akka.persistence.snapshot-store.sql",
                // SQLite has one writer: one connection at a time; batches do the rest.
                $"connection-string = \"{SqliteConnectionString(s.Path)}\"\nprovider-name = \"SQLite.MS\"\nparallelism = 1\nauto-initialize = on"),
            PostgreSql p => ("akka.persistence.journal.sql", "akka.persistence.snapshot-store.sql",
                // Tagged events go in as batched multi-row INSERT ... RETURNING statements instead of one round trip
                // per event; same rows and tag rows, ~1.6x the events/s (bench journal, docs/performance.md).
                $"connection-string = \"{p.ConnectionString}\"\nprovider-name = \"PostgreSQL15\"\nauto-initialize = on\ntagtable-asqueryable-insert-mode = inline"),
            _ => ("akka.persistence.journal.inmem", "akka.persistence.snapshot-store.inmem", ""),
        };
        const string events = "\"BufferActors.Actors.Persistence.LifecycleEvent, BufferActors.Actors\"";
        const string snapshots = "\"BufferActors.Actors.Persistence.LifecycleJournal+Snapshot, BufferActors.Actors\"";
        string journalSection = plugin.Replace("akka.persistence.journal.", "");
        var hocon = $$"""
            akka.persistence.journal.plugin = "{{plugin}}"
            akka.persistence.snapshot-store.plugin = "{{snapshot}}"
            akka.persistence.journal.{{journalSection}} {
              {{sql}}
              event-adapters { lifecycle-tags = "BufferActors.Actors.Persistence.LifecycleTagging, BufferActors.Actors" }
              event-adapter-bindings { {{events}} = lifecycle-tags }
            }
            akka.persistence.snapshot-store.{{snapshot.Replace("akka.persistence.snapshot-store.", "")}} {
              {{sql}}
            }
            akka.actor.serializers.bufferactors-journal = "BufferActors.Actors.Persistence.JournalSerializer, BufferActors.Actors"
            akka.actor.serialization-bindings {
              {{events}} = bufferactors-journal
              {{snapshots}} = bufferactors-journal
            }
            """;
        var config = ConfigurationFactory.ParseString(hocon);
        return this is InMemory ? config : config.WithFallback(Akka.Persistence.Sql.SqlPersistence.DefaultConfiguration);
    }

    /// <summary>
    /// Prepares a SQLite file: creates its folder and switches it to WAL, so readers (replay) never
    /// block the writer and commits do not fsync the whole database.
    /// </summary>
    public void Prepare()
    {
        if (this is not Sqlite s) return;
        var folder = System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(s.Path));
        if (folder is not null) Directory.CreateDirectory(folder);
        using var connection = new SqliteConnection(SqliteConnectionString(s.Path));
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "PRAGMA journal_mode=WAL;";
        command.ExecuteNonQuery();
    }

    private static string SqliteConnectionString(string path) => $"Data Source={path}";
}
