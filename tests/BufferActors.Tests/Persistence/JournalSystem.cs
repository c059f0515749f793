using Akka.Actor;
using Akka.Configuration;
using Akka.Persistence.Query;
using Akka.Persistence.Sql.Journal;
using Akka.Persistence.Sql.Query;
using Akka.Streams;
using BufferActors.Actors.Persistence;
using static BufferActors.Actors.Persistence.LifecycleJournal;
using Record = BufferActors.Actors.Persistence.LifecycleJournal.Record;
using Settings = BufferActors.Actors.Persistence.LifecycleJournal.Settings;

namespace BufferActors.Tests.Persistence;

/// <summary>Short-lived actor systems on a journal configuration, for the persistence tests.</summary>
internal static class JournalSystem
{
    /// <summary>How long any one journal step may take in these tests.</summary>
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    /// <summary>The stock Akka.Persistence.Sql write path in place of the configured journal class.</summary>
    public static readonly Config StockWriter = ConfigurationFactory.ParseString(
        $"akka.persistence.journal.sql.class = \"{typeof(SqlWriteJournal).FullName}, {typeof(SqlWriteJournal).Assembly.GetName().Name}\"");

    private static readonly Config Quiet = ConfigurationFactory.ParseString("""
        akka.loglevel = WARNING
        akka.stdout-loglevel = WARNING
        """);

    /// <summary>Runs <paramref name="body"/> in a new actor system on <paramref name="config"/>, terminated afterwards whatever happens.</summary>
    public static async Task<T> With<T>(Config config, Func<ActorSystem, Task<T>> body)
    {
        var system = ActorSystem.Create($"journal-{Guid.NewGuid():N}", config.WithFallback(Quiet));
        try
        {
            return await body(system);
        }
        finally
        {
            await system.Terminate().WaitAsync(Timeout);
            // Each system stands for a process of its own: a connection the plugin pooled in this one (left in a
            // transaction if termination cut an operation short) is not handed to the next one on the same file.
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        }
    }

    /// <summary>Runs <paramref name="body"/> against a <see cref="LifecycleJournalActor"/> in a new actor system on <paramref name="config"/>.</summary>
    public static Task<T> WithJournal<T>(Config config, Settings settings, Func<ActorSystem, IActorRef, Task<T>> body) =>
        With(config, system => body(system, system.ActorOf(LifecycleJournal.Props(settings), "journal")));

    /// <summary>Sends the records one after another, as one lifecycle would, each acknowledged before the next.</summary>
    public static async Task RecordAll(IActorRef journal, IEnumerable<IReadOnlyList<LifecycleEvent>> records)
    {
        long correlation = 0;
        foreach (var events in records)
        {
            var answer = await journal.Ask<object>(new Record(++correlation, events), Timeout);
            Assert.Equal(new Recorded(correlation), answer);
        }
    }

    /// <summary>
    /// Writes <paramref name="records"/> as builds before batched rows wrote the journal: a row per event (Akka.Persistence's
    /// PersistAll of each record's events) under the journal's persistence id, through the configured plugin.
    /// </summary>
    public static Task WriteOneEventPerRow(Config config, IEnumerable<IReadOnlyList<LifecycleEvent>> records) =>
        With(config, async system =>
        {
            var writer = system.ActorOf(Akka.Actor.Props.Create(() => new OneEventPerRowWriter(new Settings().PersistenceId)));
            foreach (var events in records) await writer.Ask<Akka.Done>(events, Timeout);
            return 0;
        });

    /// <summary>The lifecycle events of a journal payload: a row holds one event or a batch of them.</summary>
    public static IReadOnlyList<LifecycleEvent> EventsOf(object payload) => payload switch
    {
        LifecycleEventBatch batch => batch.Events,
        LifecycleEvent e => [e],
        _ => throw new ArgumentException($"not lifecycle events: {payload}", nameof(payload)),
    };

    private sealed class OneEventPerRowWriter : Akka.Persistence.ReceivePersistentActor
    {
        public OneEventPerRowWriter(string persistenceId)
        {
            PersistenceId = persistenceId;
            Command<IReadOnlyList<LifecycleEvent>>(events =>
            {
                var sender = Sender;
                int remaining = events.Count;
                PersistAll(events, _ =>
                {
                    if (--remaining == 0) sender.Tell(Akka.Done.Instance);
                });
            });
        }

        public override string PersistenceId { get; }
    }

    /// <summary>Every event journaled so far with <paramref name="tag"/>, read with the SQL read journal (Akka.Persistence.Query).</summary>
    public static Task<IReadOnlyList<EventEnvelope>> CurrentEventsByTag(ActorSystem system, string tag) =>
        Collect(system, ReadJournal(system).CurrentEventsByTag(tag, Offset.NoOffset()));

    /// <summary>Every event journaled so far under <paramref name="persistenceId"/>, read with the SQL read journal.</summary>
    public static Task<IReadOnlyList<EventEnvelope>> CurrentEventsByPersistenceId(ActorSystem system, string persistenceId) =>
        Collect(system, ReadJournal(system).CurrentEventsByPersistenceId(persistenceId, 0, long.MaxValue));

    private static SqlReadJournal ReadJournal(ActorSystem system) =>
        PersistenceQuery.Get(system).ReadJournalFor<SqlReadJournal>(SqlReadJournal.Identifier);

    private static async Task<IReadOnlyList<EventEnvelope>> Collect(ActorSystem system, Akka.Streams.Dsl.Source<EventEnvelope, Akka.NotUsed> source)
    {
        var envelopes = new List<EventEnvelope>();
        await source.RunForeach(envelopes.Add, system.Materializer()).WaitAsync(Timeout);
        return envelopes;
    }
}
