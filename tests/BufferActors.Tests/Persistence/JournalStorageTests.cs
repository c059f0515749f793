using System.Data.Common;
using System.Text.Json;
using Akka.Actor;
using Akka.Configuration;
using Akka.Persistence;
using BufferActors.Actors;
using BufferActors.Actors.Persistence;
using BufferActors.Native;
using BufferActors.Tests.Fixtures;
using Microsoft.Data.Sqlite;
using Npgsql;
using static BufferActors.Actors.Persistence.LifecycleJournal;
using Record = BufferActors.Actors.Persistence.LifecycleJournal.Record;
using Settings = BufferActors.Actors.Persistence.LifecycleJournal.Settings;

namespace BufferActors.Tests.Persistence;

/// <summary>
/// The lifecycle journal on real storage, every test on SQLite and on PostgreSQL: what is acknowledged is
/// durable and a new actor system recovers exactly the same live index; concurrent records are group
/// committed without losing or duplicating any; snapshots bound recovery to what is live.
/// </summary>
[Collection(PostgresFixture.Collection)]
public sealed class JournalStorageTests(PostgresFixture postgres)
{
    private static readonly TimeSpan Timeout = JournalSystem.Timeout;
    private static readonly DateTimeOffset T0 = new(2026, 11, 25, 12, 0, 0, TimeSpan.Zero);
    private static readonly Guid Device = Guid.Parse("6d1f1c3e-8a2b-4f5e-9c7d-0a1b2c3d4e5f");

    [SkippableTheory]
    [MemberData(nameof(JournalBackends.All), MemberType = typeof(JournalBackends))]
    public async Task RecordedEventsAreRecoveredAsTheSameLiveIndexByANewActorSystem(string backend)
    {
        await using var journal = await JournalBackends.CreateAsync(backend, postgres);
        var live1 = Id(LifecycleKind.Export, 1, 1);     // exported, attached, one open wait
        var done2 = Id(LifecycleKind.Export, 2, 2);     // full lifecycle, released
        var live3 = Id(LifecycleKind.Import, 1, 3);     // granted
        var live4 = Id(LifecycleKind.Map, 3, 4);        // mapped
        var failed5 = Id(LifecycleKind.Map, 3, 5);      // refused
        var live6 = Id(LifecycleKind.Export, 2, 6);     // releasing, its wait answered
        // One record per lifecycle step, as the lifecycle actors send them.
        IReadOnlyList<LifecycleEvent>[] records =
        [
            [new ExportRequested(live1, At(1), [10, 11, 12], DmaBufFlags.Coherent), new Exported(live1, At(2), 7, 3, Device), new ReservationDecreased(live1, At(2), 3)],
            [new ExportRequested(done2, At(3), [20, 21], DmaBufFlags.None), new Exported(done2, At(4), 8, 2, Device)],
            [new Attached(live1, At(5), "display", DmaDirection.ToDevice)],
            [new ImportRequested(live3, At(6), 40, 16), new Granted(live3, At(7), [30, 31, 32, 33], Device)],
            [new Attached(done2, At(8), "camera", DmaDirection.FromDevice)],
            [new MapRequested(live4, At(9), [50], true), new Mapped(live4, At(10), 0x10000, Device)],
            [new Detached(done2, At(11), "camera")],
            [new MapRequested(failed5, At(12), [51, 52], false), new Failed(failed5, At(12), ErrorCode.Device, "map refused", Errno.EINVAL)],
            [new ReleaseRequested(done2, At(13))],
            [new Released(done2, At(14))],
            [new WaitRequested(live1, At(15), 1, TimeSpan.FromSeconds(5))],
            [new ExportRequested(live6, At(16), [60], DmaBufFlags.WriteCombine), new Exported(live6, At(17), 9, 1, Device)],
            [new WaitRequested(live6, At(18), 0, TimeSpan.FromSeconds(2)), new ReleaseRequested(live6, At(18))],
            [new WaitAnswered(live6, At(19), 0, WaitReleasedResult.TimedOut)],
        ];
        var expected = Fold(records.SelectMany(r => r));
        Assert.Equal([live1, live3, live4, live6], expected.Keys.Order(ById).ToArray());

        Live written = await WithJournal(journal.Storage, new Settings(), async (system, actor) =>
        {
            await JournalSystem.RecordAll(actor, records);
            return await actor.Ask<Live>(new GetLive(), Timeout);
        });
        AssertLive(expected, written);

        Live recovered = await WithJournal(journal.Storage, new Settings(), (_, actor) => actor.Ask<Live>(new GetLive(), Timeout));
        AssertLive(expected, recovered);
        Assert.False(recovered.FromSnapshot);
        Assert.Equal(records.Sum(r => r.Count), recovered.EventsRecovered);
        Assert.Equal(7, recovered.NextSequence);
    }

    [SkippableTheory]
    [MemberData(nameof(JournalBackends.All), MemberType = typeof(JournalBackends))]
    public async Task TwoThousandConcurrentRecordsAreAllAcknowledgedAndAllRecovered(string backend)
    {
        await using var journal = await JournalBackends.CreateAsync(backend, postgres);
        // 1,000 lifecycles, two records each (1–3 events per record); every other one finishes.
        var records = new List<IReadOnlyList<LifecycleEvent>>();
        for (int i = 1; i <= 1000; i++)
        {
            var id = Id(LifecycleKind.Export, (ushort)(1 + i % 16), i);
            var first = new List<LifecycleEvent> { new ExportRequested(id, At(i), [(uint)i], DmaBufFlags.None), new Exported(id, At(i), i, 1, Device) };
            if (i % 3 == 0) first.Add(new ReservationDecreased(id, At(i), 1));
            records.Add(first);
            records.Add(i % 2 == 0
                ? [new ReleaseRequested(id, At(i + 1)), new Released(id, At(i + 1))]
                : [new Attached(id, At(i + 1), "display", DmaDirection.Bidirectional)]);
        }
        // Interleave the lifecycles (each one's records stay in order) so batches mix many of them.
        var sendOrder = records.Select((r, n) => (Record: r, Key: (n % 2) * 10_000 + n / 2)).OrderBy(x => x.Key).Select(x => x.Record).ToList();
        int totalEvents = records.Sum(r => r.Count);
        var expected = Fold(sendOrder.SelectMany(r => r));
        Assert.Equal(500, expected.Count);

        await WithJournal(journal.Storage, new Settings(), async (system, actor) =>
        {
            // All sent before any answer is awaited: the journal has to group them.
            var answers = sendOrder.Select((events, n) => actor.Ask<object>(new Record(n + 1, events), Timeout)).ToArray();
            var replies = await Task.WhenAll(answers);
            for (int n = 0; n < replies.Length; n++) Assert.Equal(new Recorded(n + 1), replies[n]);
            AssertLive(expected, await actor.Ask<Live>(new GetLive(), Timeout));
            return 0;
        });

        // Every event is journaled once; a row holds the events of one domain and kind from one write, tagged with
        // both in the row's Csv tags column (";a;b;"), so fewer rows than events when the journal grouped records.
        Assert.Equal(totalEvents, JournalDatabase.Events(journal.Storage).Count);
        var rows = JournalDatabase.Query(journal.Storage, "SELECT message, manifest, tags FROM journal ORDER BY ordering");
        Assert.True(rows.Count < totalEvents, $"{rows.Count} rows for {totalEvents} events sent at once");
        foreach (var row in rows)
        {
            var events = ((LifecycleEventBatch)JournalSerializer.Read((byte[])row[0]!, (string)row[1]!)).Events;
            var tags = ((string)row[2]!).Split(';', StringSplitOptions.RemoveEmptyEntries).Order(StringComparer.Ordinal);
            Assert.All(events, e => Assert.Equal(LifecycleTagging.TagsOf(events[0]).Order(StringComparer.Ordinal), LifecycleTagging.TagsOf(e).Order(StringComparer.Ordinal)));
            Assert.Equal(LifecycleTagging.TagsOf(events[0]).Order(StringComparer.Ordinal), tags);
        }
        Live recovered = await WithJournal(journal.Storage, new Settings(), (_, actor) => actor.Ask<Live>(new GetLive(), Timeout));
        AssertLive(expected, recovered);
        Assert.Equal(totalEvents, recovered.EventsRecovered);
        Assert.Equal(1001, recovered.NextSequence);
    }

    [SkippableTheory]
    [MemberData(nameof(JournalBackends.All), MemberType = typeof(JournalBackends))]
    public async Task RecoveryStartsFromTheSnapshotAndReplaysOnlyTheTail(string backend)
    {
        await using var journal = await JournalBackends.CreateAsync(backend, postgres);
        var settings = new Settings(SnapshotEvery: 100);
        // 250 finished exports of 4 events (1,000 events) and 3 live lifecycles started at the beginning,
        // the middle and the end, so the snapshots have to carry them.
        var lifecycles = new List<IReadOnlyList<LifecycleEvent>[]>();
        long sequence = 0;
        for (int i = 0; i < 250; i++)
        {
            if (i is 0 or 125 or 249) lifecycles.Add(LiveLifecycle(Id(LifecycleKind.All[i % 3], 9, ++sequence), At(i)));
            var id = Id(LifecycleKind.Export, (ushort)(1 + i % 8), ++sequence);
            lifecycles.Add(
            [
                [new ExportRequested(id, At(i), [(uint)i, (uint)i + 1], DmaBufFlags.None), new Exported(id, At(i), 5, 2, Device)],
                [new ReleaseRequested(id, At(i + 1)), new Released(id, At(i + 1))],
            ]);
        }
        var all = lifecycles.SelectMany(l => l).SelectMany(r => r).ToList();
        Assert.Equal(1000, all.Count(e => e.Id.Kind == LifecycleKind.Export && e.Id.Domain.Value != 9));
        var expected = Fold(all);
        Assert.Equal(3, expected.Count);

        await WithJournal(journal.Storage, settings, async (system, actor) =>
        {
            // The snapshot is saved asynchronously after the write that crossed the threshold, and the older ones
            // deleted after it: the journal says when each happened.
            // Sent one at a time, each record is a write of one row (one lifecycle's events): the threshold is the
            // row after which the last SnapshotEvery events come.
            var recordSizes = lifecycles.SelectMany(l => l).Select(r => r.Count).ToList();
            long threshold = 0;
            for (int events = 0; events + recordSizes[(int)threshold] <= all.Count - settings.SnapshotEvery; threshold++) events += recordSizes[(int)threshold];
            var saved = EventStreamSignal.Next<SnapshotSaved>(system, s => s.SequenceNr > threshold, Timeout);
            var deleted = EventStreamSignal.Next<SnapshotsDeleted>(system, d => d.MaxSequenceNr >= threshold, Timeout);
            long correlation = 0;
            foreach (var lifecycle in lifecycles)
            {
                // A lifecycle's steps go one after another; the journal snapshots every 100 events.
                foreach (var events in lifecycle)
                {
                    long c = ++correlation;
                    Assert.Equal(new Recorded(c), await actor.Ask<object>(new Record(c, events), Timeout));
                }
            }
            long newest = (await saved).SequenceNr;
            await deleted;
            var store = Akka.Persistence.Persistence.Instance.Apply(system).SnapshotStoreFor(null);
            var loaded = await store.Ask<LoadSnapshotResult>(new LoadSnapshot(settings.PersistenceId, SnapshotSelectionCriteria.Latest, long.MaxValue), Timeout);
            Assert.True(loaded.Snapshot?.Metadata.SequenceNr > threshold, $"newest snapshot at row {loaded.Snapshot?.Metadata.SequenceNr} of {recordSizes.Count} ({all.Count} events)");

            // Only the newest snapshot is kept (older ones are deleted once a newer one is saved).
            var older = (await store.Ask<LoadSnapshotResult>(new LoadSnapshot(settings.PersistenceId, new SnapshotSelectionCriteria(newest - 1), long.MaxValue), Timeout)).Snapshot;
            Assert.Null(older);
            return 0;
        });

        Live recovered = await WithJournal(journal.Storage, settings, (_, actor) => actor.Ask<Live>(new GetLive(), Timeout));
        Assert.True(recovered.FromSnapshot, "recovery starts from the snapshot");
        Assert.True(recovered.EventsRecovered < 200, $"{recovered.EventsRecovered} events replayed after the snapshot");
        AssertLive(expected, recovered);
        Assert.Equal(sequence + 1, recovered.NextSequence);
    }

    private static IReadOnlyList<LifecycleEvent>[] LiveLifecycle(LifecycleId id, DateTimeOffset at) => id.Kind.Name switch
    {
        "map" => [[new MapRequested(id, at, [900, 901], false), new Mapped(id, at, 0x20000, Device)]],
        "export" =>
        [
            [new ExportRequested(id, at, [910, 911, 912], DmaBufFlags.Coherent), new Exported(id, at, 11, 3, Device), new ReservationDecreased(id, at, 3)],
            [new Attached(id, at, "display", DmaDirection.ToDevice)],
            [new WaitRequested(id, at, 4, TimeSpan.FromSeconds(1))],
        ],
        _ => [[new ImportRequested(id, at, 12, 4), new Granted(id, at, [920, 921, 922, 923], Device)]],
    };

    /// <summary>Runs <paramref name="body"/> against a journal actor in a new actor system on <paramref name="storage"/>.</summary>
    private static Task<T> WithJournal<T>(JournalStorage storage, Settings settings, Func<ActorSystem, IActorRef, Task<T>> body) =>
        JournalSystem.WithJournal(storage.ToConfig(), settings, body);

    /// <summary>The live index as the journal must compute it: the fold of the events, finished ones dropped.</summary>
    private static Dictionary<LifecycleId, LifecycleRecord> Fold(IEnumerable<LifecycleEvent> events)
    {
        var records = new Dictionary<LifecycleId, LifecycleRecord>();
        foreach (var e in events)
        {
            var next = (records.TryGetValue(e.Id, out var r) ? r : LifecycleRecord.Start(e.Id, e.At)).Apply(e);
            if (next.IsFinished) records.Remove(e.Id);
            else records[e.Id] = next;
        }
        return records;
    }

    private static void AssertLive(Dictionary<LifecycleId, LifecycleRecord> expected, Live live)
    {
        Assert.Equal(expected.Keys.Order(ById).ToArray(), live.Lifecycles.Select(r => r.Id).Order(ById).ToArray());
        // Records hold immutable collections (reference equality): compare their journal JSON.
        foreach (var record in live.Lifecycles)
            Assert.Equal(Json(expected[record.Id]), Json(record));
    }

    private static string Json(LifecycleRecord record) => JsonSerializer.Serialize(record, JournalSerializer.Options);

    private static readonly Comparer<LifecycleId> ById = Comparer<LifecycleId>.Create((a, b) => a.Sequence.CompareTo(b.Sequence));

    private static LifecycleId Id(LifecycleKind kind, ushort domain, long sequence) => new(kind, new DomainId(domain), sequence);

    private static DateTimeOffset At(int step) => T0.AddMilliseconds(step * 10);
}
