using Akka.Actor;
using Akka.Configuration;
using BufferActors.Actors;
using BufferActors.Actors.Persistence;
using BufferActors.Native;
using static BufferActors.Actors.Persistence.LifecycleJournal;
using Record = BufferActors.Actors.Persistence.LifecycleJournal.Record;
using RefusingSerializer = BufferActors.Tests.Persistence.SqliteBatchWriteJournalTests.RefusingSerializer;
using Settings = BufferActors.Actors.Persistence.LifecycleJournal.Settings;

namespace BufferActors.Tests.Persistence;

/// <summary>
/// The lifecycle journal's own write path on SQLite (<c>SqliteJournalAppender</c>): a record it cannot serialize is
/// rejected alone, a write the database refuses stops the journal with nothing of it written, and the journal
/// numbers its events on without a gap across both and across its restart.
/// </summary>
public sealed class SqliteJournalAppenderTests : IDisposable
{
    private static readonly DateTimeOffset T0 = new(2026, 12, 7, 12, 0, 0, TimeSpan.Zero);
    private static readonly Settings JournalSettings = new();
    private readonly string _folder = Directory.CreateTempSubdirectory("ba-appender-").FullName;

    /// <summary>An event the actor system's serializers refuse (bound to <see cref="RefusingSerializer"/>).</summary>
    public sealed record UnserializableEvent(LifecycleId Id, DateTimeOffset At) : LifecycleEvent(Id, At)
    {
        /// <inheritdoc />
        public override LifecycleRecord ApplyTo(LifecycleRecord state) => state;
    }

    private static readonly Config Refusing = ConfigurationFactory.ParseString($$"""
        akka.actor.serializers.refusing = "{{typeof(RefusingSerializer).FullName}}, {{typeof(RefusingSerializer).Assembly.GetName().Name}}"
        akka.actor.serialization-bindings { "{{typeof(UnserializableEvent).FullName}}, {{typeof(UnserializableEvent).Assembly.GetName().Name}}" = refusing }
        """);

    [Fact]
    public async Task ARecordThatCannotBeSerializedIsRejectedAlone_TheOthersAreWrittenAndNumberedWithoutAGap()
    {
        var storage = Storage("reject.db");
        var answers = await JournalSystem.WithJournal(Refusing.WithFallback(storage.ToConfig()), JournalSettings, async (_, journal) =>
        {
            // Sent together, so that they usually share a write: each is judged alone all the same.
            var sent = new[]
            {
                journal.Ask<object>(new Record(1, Opening(1)), JournalSystem.Timeout),
                journal.Ask<object>(new Record(2, [.. Opening(2), new UnserializableEvent(Id(2), T0)]), JournalSystem.Timeout),
                journal.Ask<object>(new Record(3, Opening(3)), JournalSystem.Timeout),
            };
            var answers = await Task.WhenAll(sent);
            return (answers, await journal.Ask<Live>(new GetLive(), JournalSystem.Timeout));
        });

        Assert.Equal(new Recorded(1), answers.answers[0]);
        var refused = Assert.IsType<RecordFailed>(answers.answers[1]);
        Assert.Contains("cannot serialize", refused.Reason, StringComparison.Ordinal);
        Assert.Equal(new Recorded(3), answers.answers[2]);
        Assert.Equal([1L, 3L], answers.Item2.Lifecycles.Select(r => r.Id.Sequence)); // nothing of the rejected record applied
        Assert.Equal(Opening(1).Concat(Opening(3)).Select(e => (e.Id, JournalVocabulary.EventName(e))), JournalDatabase.Events(storage).Select(e => (e.Id, JournalVocabulary.EventName(e)))); // nor journaled
        // One row or two (as the records shared a write or not), numbered from 1 without a gap.
        var rows = JournalDatabase.Query(storage, $"SELECT sequence_number FROM journal WHERE persistence_id = '{JournalSettings.PersistenceId}' ORDER BY sequence_number");
        Assert.Equal(Enumerable.Range(1, rows.Count).Select(n => (long)n), rows.Select(r => (long)r[0]!));
    }

    [Fact]
    public async Task AWriteTheDatabaseRefuses_StopsTheJournal_ItsRecordsFail_AndTheRestartedJournalNumbersOn()
    {
        var storage = Storage("refuse.db");
        var config = storage.ToConfig();
        var (failed, live) = await JournalSystem.With<(object, Live)>(config, async system =>
        {
            var journal = system.ActorOf(LifecycleJournal.SupervisedProps(JournalSettings), "journal");
            Assert.Equal(new Recorded(1), await journal.Ask<object>(new Record(1, Opening(1)), JournalSystem.Timeout));
            // A storage failure SQLite itself reports: a trigger aborting the next insert.
            JournalDatabase.Execute(storage, "CREATE TRIGGER refuse BEFORE INSERT ON journal WHEN NEW.sequence_number = 2 BEGIN SELECT RAISE(ABORT, 'refused by the test'); END;");
            var failed = await journal.Ask<object>(new Record(2, Opening(2)), JournalSystem.Timeout);
            JournalDatabase.Execute(storage, "DROP TRIGGER refuse;");
            // The journal stopped after the failure; its supervisor starts it again, which recovers what is durable.
            object? third = null;
            for (var deadline = DateTime.UtcNow + JournalSystem.Timeout; third is not Recorded && DateTime.UtcNow < deadline;)
            {
                try
                {
                    third = await journal.Ask<object>(new Record(3, Opening(3)), TimeSpan.FromMilliseconds(500));
                }
                catch (AskTimeoutException)
                {
                    // sent while the journal was down: its dead letter has no answerer here
                }
            }
            Assert.Equal(new Recorded(3), third);
            return (failed, await journal.Ask<Live>(new GetLive(), JournalSystem.Timeout));
        });

        var refused = Assert.IsType<RecordFailed>(failed);
        Assert.Contains("refused by the test", refused.Reason, StringComparison.Ordinal);
        Assert.Equal([1L, 3L], live.Lifecycles.Select(r => r.Id.Sequence));
        var rows = JournalDatabase.Query(storage, $"SELECT sequence_number FROM journal WHERE persistence_id = '{JournalSettings.PersistenceId}' ORDER BY sequence_number");
        Assert.Equal([1L, 2L], rows.Select(r => (long)r[0]!));
    }

    private static LifecycleId Id(long sequence) => new(LifecycleKind.Export, new DomainId(1), sequence);

    private static List<LifecycleEvent> Opening(long sequence) => [new ExportRequested(Id(sequence), T0, [7, 8], DmaBufFlags.None)];

    private JournalStorage.Sqlite Storage(string name)
    {
        var storage = new JournalStorage.Sqlite(Path.Combine(_folder, name));
        storage.Prepare();
        return storage;
    }

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(_folder, recursive: true);
    }
}
