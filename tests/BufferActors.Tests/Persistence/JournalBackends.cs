using BufferActors.Actors.Persistence;
using Microsoft.Data.Sqlite;

namespace BufferActors.Tests.Persistence;

/// <summary>
/// The journal backends every storage test runs against, as theory data, and a fresh
/// <see cref="JournalStorage"/> of either for one test: SQLite in a new temporary file, PostgreSQL in a
/// new database of the <see cref="PostgresFixture"/>'s server.
/// </summary>
public static class JournalBackends
{
    /// <summary>An embedded SQLite file.</summary>
    public const string Sqlite = "sqlite";

    /// <summary>A real PostgreSQL server.</summary>
    public const string Postgres = "postgres";

    /// <summary>Theory data: every backend.</summary>
    public static TheoryData<string> All => new() { Sqlite, Postgres };

    /// <summary>A fresh, empty journal storage of <paramref name="backend"/>; dispose it at the end of the test.</summary>
    /// <param name="backend">Which storage.</param>
    /// <param name="postgres">The PostgreSQL server, for that backend.</param>
    /// <param name="prepare">
    /// False: a SQLite file is left for the plugin to create (what earlier builds did, before <see cref="JournalStorage.Prepare"/>
    /// created the tables); PostgreSQL is prepared either way.
    /// </param>
    public static async Task<TestJournalStorage> CreateAsync(string backend, PostgresFixture postgres, bool prepare = true)
    {
        switch (backend)
        {
            case Sqlite:
            {
                var folder = Directory.CreateTempSubdirectory("ba-journal-").FullName;
                var storage = new JournalStorage.Sqlite(Path.Combine(folder, "journal.db"));
                if (prepare) storage.Prepare();
                return new TestJournalStorage(backend, storage, () =>
                {
                    SqliteConnection.ClearAllPools();
                    Directory.Delete(folder, recursive: true);
                    return ValueTask.CompletedTask;
                });
            }
            case Postgres:
            {
                var database = await postgres.CreateDatabaseAsync();
                var storage = new JournalStorage.PostgreSql(database.ConnectionString);
                storage.Prepare();
                return new TestJournalStorage(backend, storage, database.DisposeAsync);
            }
            default:
                throw new ArgumentException($"unknown journal backend '{backend}'", nameof(backend));
        }
    }
}

/// <summary>One test's journal storage; disposing deletes it (file or database).</summary>
public sealed class TestJournalStorage(string backend, JournalStorage storage, Func<ValueTask> cleanup) : IAsyncDisposable
{
    /// <summary><see cref="JournalBackends.Sqlite"/> or <see cref="JournalBackends.Postgres"/>.</summary>
    public string Backend { get; } = backend;

    /// <summary>The storage.</summary>
    public JournalStorage Storage { get; } = storage;

    /// <inheritdoc />
    public ValueTask DisposeAsync() => cleanup();
}
