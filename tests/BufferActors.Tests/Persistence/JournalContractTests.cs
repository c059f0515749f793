using System.Collections.Immutable;
using Akka.Actor;
using Akka.Configuration;
using Akka.Persistence;
using Akka.TestKit;
using BufferActors.Actors.Persistence;
using RefusingSerializer = BufferActors.Tests.Persistence.SqliteBatchWriteJournalTests.RefusingSerializer;
using Unserializable = BufferActors.Tests.Persistence.SqliteBatchWriteJournalTests.Unserializable;

namespace BufferActors.Tests.Persistence;

/// <summary>
/// The behaviour every Akka.NET journal and snapshot store owes its persistent actors, written as contract tests
/// on the plugin protocol (the Akka.Persistence TCK's journal and snapshot-store specs are not served here): replay
/// of all, from, to and at most max; the highest sequence number, also after deletes; delete up to; atomic writes;
/// rejected writes not stored; order per persistence id; concurrent writers. One class, three fixtures: the journal
/// BufferActors configures on SQLite (<see cref="SqliteBatchWriteJournal"/>) and on PostgreSQL, and the stock
/// Akka.Persistence.Sql journal on SQLite as the reference.
/// </summary>
[Collection(PostgresFixture.Collection)]
public sealed class JournalContractTests(PostgresFixture postgres)
{
    /// <summary>The batch journal on SQLite, as BufferActors runs it.</summary>
    public const string BatchOnSqlite = "batch-sqlite";

    /// <summary>The journal as BufferActors configures it on PostgreSQL (the plugin's bulk inserts, tags in the row).</summary>
    public const string OnPostgres = "postgres";

    /// <summary>The stock Akka.Persistence.Sql write journal on SQLite: the reference.</summary>
    public const string StockOnSqlite = "stock-sqlite";

    public static TheoryData<string> Fixtures => new() { BatchOnSqlite, OnPostgres, StockOnSqlite };

    private static readonly Config Refusing = ConfigurationFactory.ParseString($$"""
        akka.actor.serializers.refusing = "{{typeof(RefusingSerializer).FullName}}, {{typeof(RefusingSerializer).Assembly.GetName().Name}}"
        akka.actor.serialization-bindings { "{{typeof(Unserializable).FullName}}, {{typeof(Unserializable).Assembly.GetName().Name}}" = refusing }
        """);

    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);

    [SkippableTheory, MemberData(nameof(Fixtures))]
    public Task ReplaysAll_From_To_AndAtMostMax(string fixture) => WithJournal(fixture, (kit, journal) =>
    {
        var pid = Write(kit, journal, "a", 5);
        Assert.Equal([1L, 2, 3, 4, 5], Replay(kit, journal, pid, 1, long.MaxValue, long.MaxValue).Sequence);
        Assert.Equal([3L, 4, 5], Replay(kit, journal, pid, 3, long.MaxValue, long.MaxValue).Sequence);
        Assert.Equal([1L, 2, 3], Replay(kit, journal, pid, 1, 3, long.MaxValue).Sequence);
        Assert.Equal([1L, 2], Replay(kit, journal, pid, 1, long.MaxValue, 2).Sequence);
        Assert.Equal([2L, 3], Replay(kit, journal, pid, 2, 4, 2).Sequence);
        Assert.Empty(Replay(kit, journal, pid, 6, long.MaxValue, long.MaxValue).Sequence); // from beyond the highest
        Assert.Empty(Replay(kit, journal, pid, 3, 2, long.MaxValue).Sequence);             // to below from
        Assert.Empty(Replay(kit, journal, pid, 1, long.MaxValue, 0).Sequence);             // max 0
        Assert.Equal(["a-1", "a-2", "a-3", "a-4", "a-5"], Replay(kit, journal, pid, 1, long.MaxValue, long.MaxValue).Payloads);
    });

    [SkippableTheory, MemberData(nameof(Fixtures))]
    public Task TheHighestSequenceNumberIsReported_AlsoAfterDeletes(string fixture) => WithJournal(fixture, (kit, journal) =>
    {
        var pid = Write(kit, journal, "h", 5);
        Assert.Equal(5, Replay(kit, journal, pid, 1, long.MaxValue, long.MaxValue).Highest);
        Assert.Equal(5, Replay(kit, journal, pid, 1, 2, long.MaxValue).Highest); // whatever the bounds
        Delete(kit, journal, pid, 3);
        var afterPartial = Replay(kit, journal, pid, 1, long.MaxValue, long.MaxValue);
        Assert.Equal([4L, 5], afterPartial.Sequence);
        Assert.Equal(5, afterPartial.Highest);
        Delete(kit, journal, pid, 5);
        var afterAll = Replay(kit, journal, pid, 1, long.MaxValue, long.MaxValue);
        Assert.Empty(afterAll.Sequence);
        Assert.Equal(5, afterAll.Highest); // a recovering actor must not hand out 1..5 again
        Assert.Equal(0, Replay(kit, journal, "never-written", 1, long.MaxValue, long.MaxValue).Highest);
    });

    [SkippableTheory, MemberData(nameof(Fixtures))]
    public Task DeleteUpTo_RemovesExactlyThoseEvents_AndDeletingBeyondTheHighestDeletesWhatThereIs(string fixture) => WithJournal(fixture, (kit, journal) =>
    {
        var pid = Write(kit, journal, "d", 4);
        var other = Write(kit, journal, "o", 2);
        Delete(kit, journal, pid, 2);
        Assert.Equal([3L, 4], Replay(kit, journal, pid, 1, long.MaxValue, long.MaxValue).Sequence);
        Assert.Equal([1L, 2], Replay(kit, journal, other, 1, long.MaxValue, long.MaxValue).Sequence); // another id is untouched
        Delete(kit, journal, pid, long.MaxValue);
        Assert.Empty(Replay(kit, journal, pid, 1, long.MaxValue, long.MaxValue).Sequence);
        WriteFrom(kit, journal, pid, 5, "d", 1); // writing goes on after the highest
        Assert.Equal([5L], Replay(kit, journal, pid, 1, long.MaxValue, long.MaxValue).Sequence);
    });

    [SkippableTheory, MemberData(nameof(Fixtures))]
    public Task AnAtomicWriteIsStoredWhole_AndARejectedOneNotAtAll_WhileTheOthersOfTheCallAre(string fixture) => WithJournal(fixture, (kit, journal) =>
    {
        const string pid = "atomic";
        var probe = kit.CreateTestProbe();
        var writes = new IPersistentEnvelope[]
        {
            Atomic(pid, 1, "x-1", "x-2", "x-3"),
            Atomic(pid, 4, "x-4", new Unserializable()), // cannot be serialized: rejected, with its good half
            Atomic(pid, 6, "x-6"),
        };
        journal.Tell(new WriteMessages(writes, probe.Ref, 1));
        probe.ExpectMsg<WriteMessagesSuccessful>(Wait);
        var outcomes = probe.ReceiveN(6, Wait).ToList();
        Assert.Equal(4, outcomes.OfType<WriteMessageSuccess>().Count());
        var rejected = outcomes.OfType<WriteMessageRejected>().Select(r => r.Persistent.SequenceNr).Order().ToList();
        Assert.Equal([4L, 5], rejected);
        var replay = Replay(kit, journal, pid, 1, long.MaxValue, long.MaxValue);
        Assert.Equal([1L, 2, 3, 6], replay.Sequence); // nothing of the rejected write
        Assert.Equal(6, replay.Highest);
    });

    [SkippableTheory, MemberData(nameof(Fixtures))]
    public Task EventsOfOneIdReplayInTheOrderTheyWereWritten_EvenWhenWritesArePipelined(string fixture) => WithJournal(fixture, (kit, journal) =>
    {
        const string pid = "order";
        var probe = kit.CreateTestProbe();
        for (int seq = 1; seq <= 20; seq++) journal.Tell(new WriteMessages([Atomic(pid, seq, $"o-{seq}")], probe.Ref, 1));
        for (int i = 0; i < 20; i++)
        {
            probe.ExpectMsg<WriteMessagesSuccessful>(Wait);
            Assert.Equal(i + 1, probe.ExpectMsg<WriteMessageSuccess>(Wait).Persistent.SequenceNr); // acknowledged in order
        }
        var replay = Replay(kit, journal, pid, 1, long.MaxValue, long.MaxValue);
        Assert.Equal(Enumerable.Range(1, 20).Select(i => (long)i), replay.Sequence);
        Assert.Equal(Enumerable.Range(1, 20).Select(i => $"o-{i}"), replay.Payloads);
    });

    [SkippableTheory, MemberData(nameof(Fixtures))]
    public Task ConcurrentWritersOfDifferentIds_EachReplayExactlyTheirOwnEvents(string fixture) => WithJournal(fixture, async (kit, journal) =>
    {
        const int writers = 8, events = 25;
        await Task.WhenAll(Enumerable.Range(0, writers).Select(w => Task.Run(() =>
        {
            var probe = kit.CreateTestProbe();
            for (int seq = 1; seq <= events; seq++)
            {
                journal.Tell(new WriteMessages([Atomic($"writer-{w}", seq, $"w{w}-{seq}")], probe.Ref, 1));
                probe.ExpectMsg<WriteMessagesSuccessful>(Wait);
                probe.ExpectMsg<WriteMessageSuccess>(Wait);
            }
        })));
        for (int w = 0; w < writers; w++)
        {
            var replay = Replay(kit, journal, $"writer-{w}", 1, long.MaxValue, long.MaxValue);
            Assert.Equal(Enumerable.Range(1, events).Select(i => $"w{w}-{i}"), replay.Payloads);
            Assert.Equal(events, replay.Highest);
        }
    });

    [SkippableTheory, MemberData(nameof(Fixtures))]
    public Task TheSnapshotStoreLoadsTheNewestMatch_AndDeletesBySelectionOrByMetadata(string fixture) => WithStore(fixture, async (kit, store) =>
    {
        const string pid = "snap";
        var probe = kit.CreateTestProbe();
        var saved = new List<SnapshotMetadata>();
        foreach (long seq in new long[] { 10, 20, 30, 40 })
        {
            store.Tell(new SaveSnapshot(new SnapshotMetadata(pid, seq, new DateTime(2026, 12, 1, 0, 0, (int)seq / 10, DateTimeKind.Utc)), $"s-{seq}"), probe.Ref);
            saved.Add(probe.ExpectMsg<SaveSnapshotSuccess>(Wait).Metadata);
        }
        Assert.Equal("s-40", Load(probe, store, pid, SnapshotSelectionCriteria.Latest)?.Snapshot);
        Assert.Equal("s-20", Load(probe, store, pid, new SnapshotSelectionCriteria(25))?.Snapshot);
        Assert.Equal("s-30", Load(probe, store, pid, new SnapshotSelectionCriteria(long.MaxValue, saved[2].Timestamp))?.Snapshot);
        Assert.Null(Load(probe, store, pid, new SnapshotSelectionCriteria(5)));
        Assert.Null(Load(probe, store, "no-snapshots", SnapshotSelectionCriteria.Latest));

        store.Tell(new DeleteSnapshot(saved[3]), probe.Ref);
        probe.ExpectMsg<DeleteSnapshotSuccess>(Wait);
        Assert.Equal("s-30", Load(probe, store, pid, SnapshotSelectionCriteria.Latest)?.Snapshot);
        store.Tell(new DeleteSnapshots(pid, new SnapshotSelectionCriteria(20)), probe.Ref);
        probe.ExpectMsg<DeleteSnapshotsSuccess>(Wait);
        Assert.Null(Load(probe, store, pid, new SnapshotSelectionCriteria(25)));
        Assert.Equal("s-30", Load(probe, store, pid, SnapshotSelectionCriteria.Latest)?.Snapshot);
        await Task.CompletedTask;
    });

    // ---- the plugin protocol ----

    private static string Write(TestKitBase kit, IActorRef journal, string prefix, int count)
    {
        string pid = $"{prefix}-{Guid.NewGuid():N}";
        WriteFrom(kit, journal, pid, 1, prefix, count);
        return pid;
    }

    private static void WriteFrom(TestKitBase kit, IActorRef journal, string pid, long first, string prefix, int count)
    {
        var probe = kit.CreateTestProbe();
        var writes = Enumerable.Range(0, count).Select(i => (IPersistentEnvelope)Atomic(pid, first + i, $"{prefix}-{first + i}")).ToList();
        journal.Tell(new WriteMessages(writes, probe.Ref, 1));
        probe.ExpectMsg<WriteMessagesSuccessful>(Wait);
        for (int i = 0; i < count; i++) Assert.Equal(first + i, probe.ExpectMsg<WriteMessageSuccess>(Wait).Persistent.SequenceNr);
    }

    /// <summary>One atomic write of consecutive sequence numbers from <paramref name="first"/>.</summary>
    private static AtomicWrite Atomic(string pid, long first, params object[] payloads) =>
        new(payloads.Select((p, i) => (IPersistentRepresentation)new Persistent(p, first + i, pid, string.Empty, false, ActorRefs.NoSender, "writer")).ToImmutableList());

    private static (List<long> Sequence, List<object> Payloads, long Highest) Replay(TestKitBase kit, IActorRef journal, string pid, long from, long to, long max)
    {
        var probe = kit.CreateTestProbe();
        journal.Tell(new ReplayMessages(from, to, max, pid, probe.Ref));
        var sequence = new List<long>();
        var payloads = new List<object>();
        while (true)
        {
            var message = probe.ReceiveOne(Wait);
            switch (message)
            {
                case ReplayedMessage r:
                    sequence.Add(r.Persistent.SequenceNr);
                    payloads.Add(r.Persistent.Payload);
                    break;
                case RecoverySuccess s:
                    return (sequence, payloads, s.HighestSequenceNr);
                default:
                    Assert.Fail($"unexpected answer to a replay: {message}");
                    break;
            }
        }
    }

    private static void Delete(TestKitBase kit, IActorRef journal, string pid, long to)
    {
        var probe = kit.CreateTestProbe();
        journal.Tell(new DeleteMessagesTo(pid, to, probe.Ref));
        probe.ExpectMsg<DeleteMessagesSuccess>(Wait);
    }

    private static SelectedSnapshot? Load(TestProbe probe, IActorRef store, string pid, SnapshotSelectionCriteria criteria)
    {
        store.Tell(new LoadSnapshot(pid, criteria, long.MaxValue), probe.Ref);
        return probe.ExpectMsg<LoadSnapshotResult>(Wait).Snapshot;
    }

    // ---- the fixtures ----

    private Task WithJournal(string fixture, Action<TestKitBase, IActorRef> body) =>
        WithJournal(fixture, (kit, journal) => { body(kit, journal); return Task.CompletedTask; });

    private Task WithJournal(string fixture, Func<TestKitBase, IActorRef, Task> body) =>
        WithSystem(fixture, (kit, persistence) => body(kit, persistence.JournalFor(null)));

    private Task WithStore(string fixture, Func<TestKitBase, IActorRef, Task> body) =>
        WithSystem(fixture, (kit, persistence) => body(kit, persistence.SnapshotStoreFor(null)));

    private async Task WithSystem(string fixture, Func<TestKitBase, PersistenceExtension, Task> body)
    {
        await using var storage = await JournalBackends.CreateAsync(fixture == OnPostgres ? JournalBackends.Postgres : JournalBackends.Sqlite, postgres);
        var config = storage.Storage.ToConfig();
        if (fixture == StockOnSqlite) config = JournalSystem.StockWriter.WithFallback(config);
        config = Refusing.WithFallback(config).WithFallback(ConfigurationFactory.ParseString("akka.loglevel = WARNING\nakka.stdout-loglevel = WARNING"));
        var system = ActorSystem.Create($"contract-{Guid.NewGuid():N}", config);
        var kit = new Akka.TestKit.Xunit2.TestKit(system);
        try
        {
            await body(kit, Akka.Persistence.Persistence.Instance.Apply(system));
        }
        finally
        {
            await system.Terminate().WaitAsync(JournalSystem.Timeout);
        }
    }
}
