using BufferActors.Actors.Dispatch;

namespace BufferActors.Actors.Lifecycles;

/// <summary>
/// A <see cref="ExportedBuffer.WaitReleased"/> parked in its export until the release or its time-out: who to answer,
/// and the time-out itself, a <see cref="Deadline"/> on the shared wheel that tells the export
/// <see cref="ExportedBuffer.WaitExpired"/>. The export keeps its waiters in a list linked through
/// <see cref="NextWaiter"/>, in the order they came: one object per waiter and nothing else, where a dictionary and
/// an Akka timer cost ~650 B (docs/performance.md, "Scale").
/// </summary>
internal sealed class ParkedWaiter(long id, IActorRef who, IActorRef export) : Deadline
{
    /// <summary>The waiter's number in its lifecycle (journaled in its events).</summary>
    public long Id { get; } = id;

    /// <summary>Who is answered.</summary>
    public IActorRef Who { get; } = who;

    /// <summary>The waiter parked after this one.</summary>
    public ParkedWaiter? NextWaiter { get; set; }

    /// <inheritdoc />
    protected internal override void Expire() => export.Tell(new ExportedBuffer.WaitExpired(Id), ActorRefs.NoSender);
}
