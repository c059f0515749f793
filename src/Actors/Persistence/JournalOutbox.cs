namespace BufferActors.Actors.Persistence;

/// <summary>Messages and props of <see cref="JournalOutboxActor"/>.</summary>
public static class JournalOutbox
{
    /// <summary>
    /// Events the journal is owed by a lifecycle that cannot wait for them to be written: it is stopping (its
    /// kernel object ended in its PostStop), or the kernel released its buffer after it stopped. Never answered.
    /// </summary>
    public sealed record Owe(IReadOnlyList<LifecycleEvent> Events);

    /// <summary>Answered <see cref="Drained"/> once every event owed before it is durable.</summary>
    public sealed record Drain;

    /// <summary>Every event owed before the <see cref="Drain"/> is durable.</summary>
    public sealed record Drained;

    /// <summary>How many owed events are not yet durable; answered with an <see cref="int"/>.</summary>
    public sealed record GetOwed;

    /// <summary>Name of the outbox under the manager.</summary>
    public const string ChildName = "journal-outbox";

    /// <summary>Props of an outbox writing to <paramref name="journal"/>; retries wait 10 ms, doubling up to <paramref name="maxBackoff"/>.</summary>
    public static Props Props(IActorRef journal, TimeSpan journalTimeout, TimeSpan? maxBackoff = null)
    {
        var backoff = maxBackoff ?? TimeSpan.FromSeconds(1); // plain captures only: see ExportedBuffer.Props
        return Akka.Actor.Props.Create(() => new JournalOutboxActor(journal, journalTimeout, backoff));
    }
}
