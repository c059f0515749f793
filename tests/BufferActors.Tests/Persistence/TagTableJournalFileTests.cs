using Akka.Actor;
using Akka.Configuration;
using BufferActors.Actors;
using BufferActors.Actors.Persistence;
using BufferActors.Actors.Persistence.Replay;
using BufferActors.Native;
using static BufferActors.Actors.Persistence.LifecycleJournal;
using Settings = BufferActors.Actors.Persistence.LifecycleJournal.Settings;

namespace BufferActors.Tests.Persistence;

/// <summary>
/// Journals written before tags moved into the journal row (the stock plugin in <c>tag-write-mode = TagTable</c>,
/// as earlier builds configured it), on SQLite and on PostgreSQL: replay reads them as they are, and
/// <see cref="JournalStorage.Prepare"/> upgrades them, after which the journal recovers, appends, and answers tag
/// queries for old and new events alike.
/// </summary>
[Collection(PostgresFixture.Collection)]
public sealed class TagTableJournalFileTests(PostgresFixture postgres)
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 25, 12, 0, 0, TimeSpan.Zero);
    private static readonly Guid Device = Guid.Parse("0ddba11e-8a2b-4f5e-9c7d-0a1b2c3d4e5f");

    // What earlier builds wrote: the stock write path, tags as rows of the tag table, tables created by the plugins.
    private static readonly Config EarlierBuild = ConfigurationFactory.ParseString("""
        akka.persistence.journal.sql.tag-write-mode = TagTable
        akka.persistence.query.journal.sql.tag-read-mode = TagTable
        akka.persistence.journal.sql.auto-initialize = on
        akka.persistence.snapshot-store.sql.auto-initialize = on
        """).WithFallback(JournalSystem.StockWriter);

    [SkippableTheory]
    [MemberData(nameof(JournalBackends.All), MemberType = typeof(JournalBackends))]
    public async Task ReplayReadsAnOldJournalWithoutChangingIt(string backend)
    {
        await using var journal = await OldJournal(backend);
        var entries = await JournalReader.ReadAsync(journal.Storage);
        Assert.Equal(Old().SelectMany(r => r).Select(e => e.Id), entries.Select(e => e.Event.Id));
        Assert.Equal(Enumerable.Range(1, entries.Count).Select(n => (long)n), entries.Select(e => e.SequenceNr));
        Assert.False(JournalDatabase.HasTagsColumn(journal.Storage));
    }

    [SkippableTheory]
    [MemberData(nameof(JournalBackends.All), MemberType = typeof(JournalBackends))]
    public async Task PrepareUpgradesAnOldJournal_ThenTheJournalRecoversAppendsAndFindsOldAndNewEventsByTag(string backend)
    {
        await using var journal = await OldJournal(backend);
        var storage = journal.Storage;
        var before = await JournalSystem.WithJournal(EarlierBuild.WithFallback(storage.ToConfig()), new Settings(), (_, actor) => actor.Ask<Live>(new GetLive(), JournalSystem.Timeout));
        long tagRows = JournalDatabase.Scalar(storage, "SELECT COUNT(*) FROM tags");
        Assert.Equal(2 * Old().Sum(r => r.Count), tagRows);

        storage.Prepare();
        Assert.True(JournalDatabase.HasTagsColumn(storage));
        Assert.Equal(0, JournalDatabase.Scalar(storage, "SELECT COUNT(*) FROM journal WHERE tags IS NULL OR length(tags) - length(replace(tags, ';', '')) <> 3"));
        Assert.Equal(tagRows, JournalDatabase.Scalar(storage, "SELECT COUNT(*) FROM tags")); // left as it was
        storage.Prepare(); // a second time: nothing to do

        var all = Old().Concat(New()).SelectMany(r => r).ToList();
        int old = Old().Sum(r => r.Count);
        await JournalSystem.WithJournal(storage.ToConfig(), new Settings(), async (system, actor) =>
        {
            var recovered = await actor.Ask<Live>(new GetLive(), JournalSystem.Timeout);
            Assert.Equal(before.Lifecycles.Select(r => r.Id), recovered.Lifecycles.Select(r => r.Id));
            Assert.Equal(before.NextSequence, recovered.NextSequence);
            await JournalSystem.RecordAll(actor, New());

            var domain3 = await JournalSystem.CurrentEventsByTag(system, "domain-3");
            // Old rows hold an event each, new ones a batch of one domain's events of one kind: the tag finds exactly domain 3's.
            Assert.Equal(all.Where(e => e.Id.Domain.Value == 3).Select(e => e.Id), domain3.SelectMany(e => JournalSystem.EventsOf(e.Event)).Select(e => e.Id));
            Assert.Contains(domain3, e => e.SequenceNr <= old); // old and new
            Assert.Contains(domain3, e => e.SequenceNr > old);
            return 0;
        });
        Assert.Equal(tagRows, JournalDatabase.Scalar(storage, "SELECT COUNT(*) FROM tags")); // new events add no tag rows
        var entries = await JournalReader.ReadAsync(storage);
        Assert.Equal(all.Select(e => e.Id), entries.Select(e => e.Event.Id));
    }

    /// <summary>A fresh journal of <paramref name="backend"/>, written as earlier builds wrote it.</summary>
    private async Task<TestJournalStorage> OldJournal(string backend)
    {
        var journal = await JournalBackends.CreateAsync(backend, postgres, prepare: false);
        await JournalSystem.WriteOneEventPerRow(EarlierBuild.WithFallback(journal.Storage.ToConfig()), Old());
        return journal;
    }

    private static List<IReadOnlyList<LifecycleEvent>> Old()
    {
        var export = new LifecycleId(LifecycleKind.Export, new DomainId(3), 1);
        var import = new LifecycleId(LifecycleKind.Import, new DomainId(4), 2);
        return
        [
            [new ExportRequested(export, At(1), [10, 11], DmaBufFlags.None), new Exported(export, At(2), 7, 2, Device)],
            [new ImportRequested(import, At(3), 40, 2), new Granted(import, At(4), [30, 31], Device)],
            [new Attached(export, At(5), "display", DmaDirection.ToDevice)],
        ];
    }

    private static List<IReadOnlyList<LifecycleEvent>> New()
    {
        var export = new LifecycleId(LifecycleKind.Export, new DomainId(3), 1);
        var map = new LifecycleId(LifecycleKind.Map, new DomainId(3), 3);
        return
        [
            [new Detached(export, At(6), "display")],
            [new MapRequested(map, At(7), [50], false), new Mapped(map, At(8), 0x10000, Device)],
        ];
    }

    private static DateTimeOffset At(int step) => T0.AddMilliseconds(step * 10);
}
