using Akka.Actor;
using Akka.Configuration;
using Akka.Persistence;
using Akka.Serialization;
using BufferActors.Actors;
using BufferActors.Actors.Persistence;
using BufferActors.Native;
using Microsoft.Data.Sqlite;
using static BufferActors.Actors.Persistence.LifecycleJournal;
using Settings = BufferActors.Actors.Persistence.LifecycleJournal.Settings;

namespace BufferActors.Tests.Persistence;

/// <summary>
/// <see cref="SqliteBatchWriteJournal"/>, the SQLite journal's write path: it writes the rows the stock plugin
/// writes in Csv tag mode, the stock plugin reads them back (recovery, by persistence id, by tag), an atomic
/// write that cannot be serialized is rejected alone, and a database failure is a persist failure.
/// </summary>
public sealed class SqliteBatchWriteJournalTests : IDisposable
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 25, 12, 0, 0, TimeSpan.Zero);
    private static readonly Guid Device = Guid.Parse("4c0ffee0-8a2b-4f5e-9c7d-0a1b2c3d4e5f");
    private static readonly Settings JournalSettings = new();

    private static readonly Config Refusing = ConfigurationFactory.ParseString($$"""
        akka.actor.serializers.refusing = "{{typeof(RefusingSerializer).FullName}}, {{typeof(RefusingSerializer).Assembly.GetName().Name}}"
        akka.actor.serialization-bindings { "{{typeof(Unserializable).FullName}}, {{typeof(Unserializable).Assembly.GetName().Name}}" = refusing }
        """);

    private readonly string _folder = Directory.CreateTempSubdirectory("ba-sqlite-writer-").FullName;

    [Fact]
    public void TheSqliteStorageWritesThroughIt_WithTagsInTheJournalRow()
    {
        var config = Storage("any.db").ToConfig();
        Assert.StartsWith(typeof(SqliteBatchWriteJournal).FullName + ",", config.GetString("akka.persistence.journal.sql.class"));
        Assert.Equal("Csv", config.GetString("akka.persistence.journal.sql.tag-write-mode"));
        Assert.Equal("Csv", config.GetString("akka.persistence.query.journal.sql.tag-read-mode"));
    }

    [Theory]
    [InlineData(JournalDurability.Process, "process", 1)] // synchronous = NORMAL: a commit survives the process's crash
    [InlineData(JournalDurability.Power, "power", 2)]     // synchronous = FULL: a commit is synced before it is acknowledged
    public void TheDurabilityReachesTheWritersConnection(JournalDurability durability, string key, long synchronous)
    {
        var storage = Storage($"{key}.db") with { Durability = durability };
        Assert.Equal(key, storage.ToConfig().GetString($"akka.persistence.journal.sql.{SqliteBatchWriteJournal.DurabilityKey}"));
        using var connection = new SqliteConnection($"Data Source={Path.Combine(_folder, key + ".db")}");
        connection.Open();
        SqliteJournalWriter.ApplyDurability(connection, durability);
        using var read = connection.CreateCommand();
        read.CommandText = "PRAGMA synchronous;";
        Assert.Equal(synchronous, (long)read.ExecuteScalar()!);
    }

    [Fact]
    public void TheDefaultDurabilityIsProcess() => Assert.Equal(JournalDurability.Process, new JournalStorage.Sqlite("x.db").Durability);

    [Fact]
    public async Task ItWritesTheRowsTheStockPluginWrites()
    {
        var ours = Storage("ours.db");
        var stock = Storage("stock.db");
        long before = DateTime.UtcNow.Ticks;
        await JournalSystem.WithJournal(ours.ToConfig(), JournalSettings, (_, journal) => Record(journal, Records()));
        long after = DateTime.UtcNow.Ticks;
        await JournalSystem.WithJournal(JournalSystem.StockWriter.WithFallback(stock.ToConfig()), JournalSettings, (_, journal) => Record(journal, Records()));

        var ourRows = Rows(ours);
        var stockRows = Rows(stock);
        Assert.Equal(Records().Sum(r => r.Count), JournalDatabase.Events(ours).Count);
        Assert.Equal(stockRows.Count, ourRows.Count);
        // Column by column, with SQLite's own types (quote() shows them): the payload bytes, manifest, serializer,
        // Csv tags, deleted flag; `created` and the writer uuid differ by when and by whom, not in kind.
        Assert.Equal(stockRows.Select(r => r.Comparable), ourRows.Select(r => r.Comparable));
        Assert.All(ourRows, r => Assert.InRange(r.Created, before, after));
        Assert.Single(ourRows.Select(r => r.WriterUuid).Distinct());
        Assert.Equal(32, ourRows[0].WriterUuid.Length);
        Assert.Equal(Schema(stock), Schema(ours));
        Assert.Equal(0, TagRows(ours));
    }

    [Fact]
    public async Task TheStockPluginRecoversItsRows_AndQueriesThemByPersistenceIdAndByTag()
    {
        var storage = Storage("read.db");
        var records = Records();
        var written = await JournalSystem.WithJournal(storage.ToConfig(), JournalSettings, async (_, journal) =>
        {
            await Record(journal, records);
            return await journal.Ask<Live>(new GetLive(), JournalSystem.Timeout);
        });

        await JournalSystem.WithJournal(storage.ToConfig(), JournalSettings, async (system, journal) =>
        {
            var recovered = await journal.Ask<Live>(new GetLive(), JournalSystem.Timeout);
            Assert.Equal(written.Lifecycles.Select(r => r.Id), recovered.Lifecycles.Select(r => r.Id));
            Assert.Equal(records.Sum(r => r.Count), recovered.EventsRecovered);

            var all = records.SelectMany(r => r).ToList();
            var byId = await JournalSystem.CurrentEventsByPersistenceId(system, JournalSettings.PersistenceId);
            Assert.Equal(Enumerable.Range(1, byId.Count).Select(n => (long)n), byId.Select(e => e.SequenceNr));
            Assert.Equal(all.Select(e => e.Id), byId.SelectMany(e => JournalSystem.EventsOf(e.Event)).Select(e => e.Id));

            // domain-1 and domain-10: the Csv match is on whole tags.
            foreach (var domain in new ushort[] { 1, 10 })
            {
                var byTag = await JournalSystem.CurrentEventsByTag(system, $"domain-{domain}");
                Assert.Equal(all.Where(e => e.Id.Domain.Value == domain).Select(e => e.Id), byTag.SelectMany(e => JournalSystem.EventsOf(e.Event)).Select(e => e.Id));
            }
            var imports = await JournalSystem.CurrentEventsByTag(system, "import");
            Assert.Equal(all.Where(e => e.Id.Kind == LifecycleKind.Import).Select(e => e.Id), imports.SelectMany(e => JournalSystem.EventsOf(e.Event)).Select(e => e.Id));
            Assert.NotEmpty(imports);
            return 0;
        });
    }

    [Fact]
    public async Task AnAtomicWriteThatCannotBeSerializedIsRejectedAlone_TheOthersOfTheSameCallAreWritten()
    {
        var storage = Storage("reject.db");
        var config = Refusing.WithFallback(storage.ToConfig());
        var outcomes = await JournalSystem.With(config, system =>
            // Three PersistAsync in one command: one WriteMessages of three atomic writes, the middle one unserializable.
            system.ActorOf(Akka.Actor.Props.Create(() => new Persister("p-reject")), "p").Ask<Outcome[]>(new Persist(["first", Persister.Bad, "third"]), JournalSystem.Timeout));

        Assert.Equal(["persisted 1 first", $"rejected 2 {nameof(NotSupportedException)}", "persisted 3 third"], outcomes.OrderBy(o => o.SequenceNr).Select(o => o.ToString()));
        var rows = Query(storage, "SELECT sequence_number, created FROM journal WHERE persistence_id = 'p-reject' ORDER BY sequence_number");
        Assert.Equal([1L, 3L], rows.Select(r => (long)r[0]!));
        Assert.Equal(rows[0][1], rows[1][1]); // one `created` per call: the rows were one write, not two

        var recovered = await JournalSystem.With(config, system =>
            system.ActorOf(Akka.Actor.Props.Create(() => new Persister("p-reject")), "p").Ask<string[]>(Persister.Recovered, JournalSystem.Timeout));
        Assert.Equal(["first", "third"], recovered);
    }

    [Fact]
    public async Task ADatabaseFailureFailsTheWholeWrite_AsAPersistFailureWithTheSqliteError()
    {
        var storage = Storage("fail.db");
        var outcomes = await JournalSystem.With(storage.ToConfig(), async system =>
        {
            var persister = system.ActorOf(Akka.Actor.Props.Create(() => new Persister("p-fail")), "p");
            var first = await persister.Ask<Outcome[]>(new Persist(["kept"]), JournalSystem.Timeout);
            Assert.Equal("persisted 1 kept", Assert.Single(first).ToString());
            Execute(storage, "CREATE TRIGGER refuse BEFORE INSERT ON journal BEGIN SELECT RAISE(ABORT, 'injected failure'); END");
            // A persist failure stops the actor after the first failed event (Akka's rule): one outcome.
            return await persister.Ask<Outcome[]>(new Persist(["lost-a", "lost-b"]), JournalSystem.Timeout);
        });

        var failure = Assert.Single(outcomes);
        Assert.Equal($"failed 2 {nameof(SqliteException)}", failure.ToString());
        Assert.Contains("injected failure", failure.Cause!.Message);
        Assert.Equal([1L], Query(storage, "SELECT sequence_number FROM journal").Select(r => (long)r[0]!));
    }

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        Directory.Delete(_folder, recursive: true);
    }

    private JournalStorage.Sqlite Storage(string name)
    {
        var storage = new JournalStorage.Sqlite(Path.Combine(_folder, name));
        storage.Prepare();
        return storage;
    }

    private static async Task<int> Record(IActorRef journal, IEnumerable<IReadOnlyList<LifecycleEvent>> records)
    {
        await JournalSystem.RecordAll(journal, records);
        return 0;
    }

    /// <summary>Exports, an import and a map over domains 1, 2 and 10, one record per lifecycle step.</summary>
    private static List<IReadOnlyList<LifecycleEvent>> Records()
    {
        var export1 = new LifecycleId(LifecycleKind.Export, new DomainId(1), 1);
        var export10 = new LifecycleId(LifecycleKind.Export, new DomainId(10), 2);
        var import2 = new LifecycleId(LifecycleKind.Import, new DomainId(2), 3);
        var map1 = new LifecycleId(LifecycleKind.Map, new DomainId(1), 4);
        return
        [
            [new ExportRequested(export1, At(1), [10, 11], DmaBufFlags.Coherent), new Exported(export1, At(2), 7, 2, Device), new ReservationDecreased(export1, At(2), 2)],
            [new ExportRequested(export10, At(3), [20], DmaBufFlags.None), new Exported(export10, At(4), 8, 1, Device)],
            [new ImportRequested(import2, At(5), 40, 4), new Granted(import2, At(6), [30, 31, 32, 33], Device)],
            [new Attached(export1, At(7), "display", DmaDirection.ToDevice)],
            [new MapRequested(map1, At(8), [50], true), new Mapped(map1, At(9), 0x10000, Device)],
            [new ReleaseRequested(export10, At(10)), new Released(export10, At(10))],
            [new AccessEnded(import2, At(11))],
        ];
    }

    private static DateTimeOffset At(int step) => T0.AddMilliseconds(step * 10);

    private sealed record JournalRowView(string Comparable, long Created, string WriterUuid);

    private static List<JournalRowView> Rows(JournalStorage.Sqlite storage) =>
        [.. Query(storage,
            "SELECT persistence_id || '|' || sequence_number || '|' || quote(deleted) || '|' || hex(message) || '|' || typeof(message) || '|' || " +
            "quote(manifest) || '|' || quote(identifier) || '|' || quote(tags) || '|' || typeof(created) || '|' || typeof(writer_uuid), created, writer_uuid " +
            "FROM journal ORDER BY sequence_number")
            .Select(r => new JournalRowView((string)r[0]!, (long)r[1]!, (string)r[2]!))];

    private static List<string> Schema(JournalStorage.Sqlite storage) =>
        [.. Query(storage, "SELECT type || ' ' || name || ': ' || sql FROM sqlite_master WHERE tbl_name = 'journal' AND sql IS NOT NULL ORDER BY name").Select(r => (string)r[0]!)];

    private static long TagRows(JournalStorage.Sqlite storage) =>
        (long)Query(storage, "SELECT COUNT(*) FROM sqlite_master WHERE name = 'tags'")[0][0]!;

    private static List<object?[]> Query(JournalStorage.Sqlite storage, string sql) => JournalDatabase.Query(storage, sql);

    private static void Execute(JournalStorage.Sqlite storage, string sql) => JournalDatabase.Execute(storage, sql);

    /// <summary>Persist each item as its own atomic write (PersistAsync), all in one command; answered with every outcome.</summary>
    private sealed record Persist(string[] Items);

    /// <summary>What became of one persisted item.</summary>
    private sealed record Outcome(string Kind, long SequenceNr, string What, Exception? Cause = null)
    {
        public override string ToString() => $"{Kind} {SequenceNr} {What}";
    }

    /// <summary>A payload no serializer accepts.</summary>
    public sealed class Unserializable;

    /// <summary>Refuses everything, as a serializer meeting a payload it cannot write would.</summary>
    public sealed class RefusingSerializer(ExtendedActorSystem system) : Serializer(system)
    {
        public override int Identifier => 7799;
        public override bool IncludeManifest => false;
        public override byte[] ToBinary(object obj) => throw new NotSupportedException($"cannot serialize {obj.GetType().Name}");
        public override object FromBinary(byte[] bytes, Type? type) => throw new NotSupportedException("nothing to read");
    }

    /// <summary>A persistent actor reporting each item's outcome: persisted, rejected or failed.</summary>
    private sealed class Persister : ReceivePersistentActor
    {
        public const string Bad = "bad";
        public static readonly object Recovered = "recovered";
        private readonly List<string> _recovered = [];
        private readonly List<Outcome> _outcomes = [];
        private IActorRef _replyTo = ActorRefs.Nobody;
        private int _expected;

        public Persister(string persistenceId)
        {
            PersistenceId = persistenceId;
            Recover<string>(_recovered.Add);
            Command<Persist>(p =>
            {
                (_replyTo, _expected) = (Sender, p.Items.Length);
                _outcomes.Clear();
                // One atomic write per item on purpose (AK1006 asks for PersistAllAsync, which would make one of them all).
#pragma warning disable AK1006
                foreach (var item in p.Items)
                    PersistAsync<object>(item == Bad ? new Unserializable() : item, e => Report(new Outcome("persisted", LastSequenceNr, (string)e)));
#pragma warning restore AK1006
            });
            Command<string>(s => s == (string)Recovered, _ => Sender.Tell(_recovered.ToArray()));
        }

        public override string PersistenceId { get; }

        protected override void OnPersistRejected(Exception cause, object @event, long sequenceNr) =>
            Report(new Outcome("rejected", sequenceNr, cause.GetType().Name, cause));

        protected override void OnPersistFailure(Exception cause, object @event, long sequenceNr)
        {
            _outcomes.Add(new Outcome("failed", sequenceNr, cause.GetType().Name, cause));
            _replyTo.Tell(_outcomes.ToArray());
            base.OnPersistFailure(cause, @event, sequenceNr);
        }

        private void Report(Outcome outcome)
        {
            _outcomes.Add(outcome);
            if (_outcomes.Count == _expected) _replyTo.Tell(_outcomes.ToArray());
        }
    }
}
