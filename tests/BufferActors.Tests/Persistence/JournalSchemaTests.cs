using Akka.Actor;
using Akka.Configuration;
using BufferActors.Actors;
using BufferActors.Actors.Persistence;
using BufferActors.Native;
using BufferActors.Tests.Fixtures;
using static BufferActors.Actors.Persistence.LifecycleJournal;
using Settings = BufferActors.Actors.Persistence.LifecycleJournal.Settings;

namespace BufferActors.Tests.Persistence;

/// <summary>
/// <see cref="JournalStorage.Prepare"/> creates a SQLite journal's tables itself (the plugins start with
/// <c>auto-initialize = off</c>): the schema must be exactly the one Akka.Persistence.Sql creates, and a journal on it
/// must write, snapshot and recover.
/// </summary>
public sealed class JournalSchemaTests : IDisposable
{
    private static readonly DateTimeOffset T0 = new(2026, 12, 7, 12, 0, 0, TimeSpan.Zero);
    private readonly string _folder = Directory.CreateTempSubdirectory("ba-schema-").FullName;

    // The plugins creating their own tables, as they do with the stock configuration.
    private static readonly Config PluginCreatesTables = ConfigurationFactory.ParseString("""
        akka.persistence.journal.sql.auto-initialize = on
        akka.persistence.snapshot-store.sql.auto-initialize = on
        """);

    [Fact]
    public async Task PrepareCreatesExactlyTheTablesAndIndexesThePluginsCreate()
    {
        var ours = new JournalStorage.Sqlite(Path.Combine(_folder, "prepared.db"));
        ours.Prepare();
        var theirs = new JournalStorage.Sqlite(Path.Combine(_folder, "plugin.db"));
        // Journal and snapshot store both start, and create their tables, before the first record is answered.
        await JournalSystem.WithJournal(PluginCreatesTables.WithFallback(theirs.ToConfig()), new Settings(), async (_, journal) =>
        {
            await JournalSystem.RecordAll(journal, [[Opening(1)]]);
            return 0;
        });

        Assert.Equal(Schema(theirs), Schema(ours));
        Assert.Contains(Schema(ours), s => s.StartsWith("table journal:", StringComparison.Ordinal));
        Assert.Contains(Schema(ours), s => s.StartsWith("table snapshot:", StringComparison.Ordinal));
    }

    [Fact]
    public async Task OnAPreparedFile_TheJournalWritesSnapshotsAndRecovers_WithoutThePluginsCreatingAnything()
    {
        var storage = new JournalStorage.Sqlite(Path.Combine(_folder, "journal.db"));
        storage.Prepare();
        var before = Schema(storage);
        var settings = new Settings(SnapshotEvery: 4);
        var written = await JournalSystem.WithJournal(storage.ToConfig(), settings, async (system, journal) =>
        {
            var saved = EventStreamSignal.Next<SnapshotSaved>(system, _ => true, JournalSystem.Timeout);
            // Five finished lifecycles and a live one: the live index stays small, so snapshots come every 4 events.
            await JournalSystem.RecordAll(journal, [.. Enumerable.Range(1, 5).SelectMany(Finished), [Opening(6)]]);
            await saved;
            return await journal.Ask<Live>(new GetLive(), JournalSystem.Timeout);
        });
        var recovered = await JournalSystem.WithJournal(storage.ToConfig(), settings, (_, journal) => journal.Ask<Live>(new GetLive(), JournalSystem.Timeout));

        Assert.Equal(before, Schema(storage));
        Assert.True(recovered.FromSnapshot);
        Assert.Equal(written.Lifecycles.Select(r => r.Id), recovered.Lifecycles.Select(r => r.Id));
        Assert.Equal([6L], recovered.Lifecycles.Select(r => r.Id.Sequence));
    }

    private static LifecycleId Id(long sequence) => new(LifecycleKind.Export, new DomainId(1), sequence);

    private static LifecycleEvent Opening(long sequence) => new ExportRequested(Id(sequence), T0, [7, 8], DmaBufFlags.None);

    private static IEnumerable<IReadOnlyList<LifecycleEvent>> Finished(int sequence) =>
    [
        [Opening(sequence), new Exported(Id(sequence), T0, 5, 2, Guid.Empty)],
        [new ReleaseRequested(Id(sequence), T0), new Released(Id(sequence), T0)],
    ];

    /// <summary>Every table and index but SQLite's own, with its SQL as SQLite keeps it.</summary>
    private static List<string> Schema(JournalStorage.Sqlite storage) =>
        [.. JournalDatabase.Query(storage, "SELECT type || ' ' || name || ': ' || sql FROM sqlite_master WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%' ORDER BY name").Select(r => (string)r[0]!)];

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(_folder, recursive: true);
    }
}
