namespace BufferActors.Actors.Persistence;

/// <summary>Messages, settings and props of <see cref="LifecycleJournalActor"/>.</summary>
public static class LifecycleJournal
{
    /// <summary>Persist <paramref name="Events"/> atomically; answered <see cref="Recorded"/> or <see cref="RecordFailed"/>.</summary>
    public sealed record Record(long Correlation, IReadOnlyList<LifecycleEvent> Events);

    /// <summary>The events of <see cref="Record"/> <paramref name="Correlation"/> are durable.</summary>
    public sealed record Recorded(long Correlation);

    /// <summary>The events were not persisted (journal failure or rejection); nothing of them is in the journal.</summary>
    public sealed record RecordFailed(long Correlation, string Reason);

    /// <summary>Ask for the live (unfinished) lifecycles and the next free sequence number.</summary>
    public sealed record GetLive;

    /// <summary>The answer to <see cref="GetLive"/>.</summary>
    public sealed record Live(IReadOnlyList<LifecycleRecord> Lifecycles, long NextSequence, long EventsRecovered, bool FromSnapshot);

    /// <summary>Journal settings.</summary>
    /// <param name="PersistenceId">The journal's persistence id.</param>
    /// <param name="SnapshotEvery">A snapshot of the live index is taken after this many events.</param>
    /// <param name="MaxBatch">Most events written in one atomic write.</param>
    public sealed record Settings(string PersistenceId = "bufferactors-lifecycles", int SnapshotEvery = 10_000, int MaxBatch = 2_000);

    /// <summary>The journal's state in a snapshot: only what is still live, so recovery cost follows live lifecycles, not history.</summary>
    public sealed record Snapshot(LifecycleRecord[] Live, long NextSequence);

    /// <summary>Props.</summary>
    public static Props Props(Settings? settings = null)
    {
        var resolved = settings ?? new Settings(); // plain captures only: see ExportedBuffer.Props
        return Akka.Actor.Props.Create(() => new LifecycleJournalActor(resolved));
    }
}
