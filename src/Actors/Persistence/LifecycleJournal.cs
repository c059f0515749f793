using Akka.Pattern;

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

    /// <summary>
    /// Published on the actor system's event stream each time the journal has made events durable, in the order
    /// written: what an observer (a daemon's event subscription, a test waiting for a step) learns without asking.
    /// </summary>
    public sealed record Written(IReadOnlyList<LifecycleEvent> Events);

    /// <summary>Published on the event stream when a journal incarnation finished its recovery and takes records.</summary>
    public sealed record Recovered(long EventsRecovered, bool FromSnapshot);

    /// <summary>Published on the event stream when a snapshot of the live index up to <paramref name="SequenceNr"/> is saved.</summary>
    public sealed record SnapshotSaved(long SequenceNr);

    /// <summary>Published on the event stream when the snapshots up to <paramref name="MaxSequenceNr"/> are deleted.</summary>
    public sealed record SnapshotsDeleted(long MaxSequenceNr);

    /// <summary>Journal settings.</summary>
    /// <param name="PersistenceId">The journal's persistence id.</param>
    /// <param name="SnapshotEvery">A snapshot of the live index is taken after this many events, or after twice as many as there are live lifecycles if that is more; older snapshots are deleted.</param>
    /// <param name="MaxBatch">Most events written in one atomic write.</param>
    /// <param name="Faults">
    /// Fault injection for simulations (null in production): asked once per atomic write with its events; a
    /// <see cref="JournalWriteFault.Reject"/> or <see cref="JournalWriteFault.Fail"/> answer makes the write
    /// behave exactly like a rejection or a storage failure reported by the plugin, and nothing is written.
    /// </param>
    public sealed record Settings(string PersistenceId = "bufferactors-lifecycles", int SnapshotEvery = 10_000, int MaxBatch = 2_000,
        Func<IReadOnlyList<LifecycleEvent>, JournalWriteFault>? Faults = null)
    {
        /// <summary>Where the journal's writes are measured (duration and events per write); none when null.</summary>
        public Diagnostics.BufferActorsMetrics? Metrics { get; init; }
    }

    /// <summary>The journal's state in a snapshot: only what is still live, so recovery cost follows live lifecycles, not history.</summary>
    public sealed record Snapshot(LifecycleRecord[] Live, long NextSequence);

    /// <summary>Props of the bare journal actor: it stops for good on a storage failure (Akka's rule for persistent actors).</summary>
    public static Props Props(Settings? settings = null)
    {
        var resolved = settings ?? new Settings(); // plain captures only: see ExportedBuffer.Props
        return Akka.Actor.Props.Create(() => new LifecycleJournalActor(resolved));
    }

    /// <summary>Name of the journal actor under the supervisor of <see cref="SupervisedProps"/>.</summary>
    public const string ChildName = "lifecycles";

    /// <summary>
    /// Props of the journal as hosts run it: the journal actor under Akka's <see cref="BackoffSupervisor"/>,
    /// which starts it again (10 ms, doubling up to 5 s) after a storage failure stopped it. The new
    /// incarnation recovers the live index from what was durable, so one failed write costs the lifecycles
    /// of that write, not journaling for the rest of the host's life. While it is down, records reach dead
    /// letters and are answered <see cref="RecordFailed"/> (see <c>DeadLetterAnswerer</c>).
    /// </summary>
    public static Props SupervisedProps(Settings? settings = null) =>
        BackoffSupervisor.Props(Backoff.OnStop(Props(settings), ChildName, TimeSpan.FromMilliseconds(10), TimeSpan.FromSeconds(5), 0.2, maxNrOfRetries: -1)
            .WithAutoReset(TimeSpan.FromSeconds(10)));
}

/// <summary>What an injected journal fault does to one atomic write (<see cref="LifecycleJournal.Settings.Faults"/>).</summary>
public enum JournalWriteFault
{
    /// <summary>The write goes to storage.</summary>
    None,
    /// <summary>The write is rejected (like a serialization failure): its callers are told, the journal goes on.</summary>
    Reject,
    /// <summary>Storage fails (like a lost database): the write's and the queued callers are told, the journal stops and is restarted.</summary>
    Fail,
}
