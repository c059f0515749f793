using BufferActors.Actors.Persistence;

namespace BufferActors.Actors.Lifecycles;

/// <summary>
/// What the manager, the domain supervisors and recovery need to know of one kind of lifecycle, so that none of
/// them names a kind: as Akka's ShardRegion is handed entity props and extractors, they are handed these
/// (<see cref="LifecycleKinds"/>). Each kind's module (its folder under <c>Lifecycles/</c>) implements it once.
/// </summary>
public interface ILifecycleKind
{
    /// <summary>The kind's name in ids, tags and the journal.</summary>
    LifecycleKind Kind { get; }

    /// <summary>The request that starts a lifecycle of this kind; the manager routes requests by their type.</summary>
    Type RequestType { get; }

    /// <summary>True when a lifecycle of this kind counts against <c>Quotas.MaxBuffers</c> (a dma-buf); all count pages.</summary>
    bool IsBuffer { get; }

    /// <summary>
    /// True when a lifecycle of this kind can be quarantined (held by someone else past its release): a domain whose
    /// quarantined lifecycles reach <c>Quotas.MaxQuarantinedBuffers</c> or <c>MaxQuarantinedPages</c> gets no new ones.
    /// </summary>
    bool CanBeQuarantined => false;

    /// <summary>How many finished actors of this kind a domain supervisor keeps to run its next lifecycles (0: a new actor each time).</summary>
    int ReusedActors { get; }

    /// <summary>
    /// When its frontend domain dies, lifecycles are ended phase by phase, lowest first, each phase once the previous
    /// one is gone: what depends on the frontend's memory least goes last.
    /// </summary>
    int CleanupPhase { get; }

    /// <summary>
    /// What a lifecycle is sent to end it when its domain died; null: it is stopped, and its <c>PostStop</c> releases
    /// what it holds.
    /// </summary>
    object? CleanupMessage(LifecycleId id);

    /// <summary>A refusal of <paramref name="request"/> before anything reaches the device or the journal, or null.</summary>
    OperationFailed? Refusal(ILifecycleRequest request);

    /// <summary>The props of a new actor for lifecycle <paramref name="id"/>; the request comes with its first message.</summary>
    Props Props(LifecycleId id, LifecycleServices services);

    /// <summary>
    /// What a start on an existing journal does with <paramref name="record"/>, a lifecycle of this kind the journal
    /// shows live: adopt it again, close it as reclaimed, or keep it live in the journal while the session watches it.
    /// </summary>
    LifecycleRecovery Recover(LifecycleRecord record, LifecycleServices services);

    /// <summary>The events this kind journals besides the common ones, with the journal's names for them; none for an unjournaled kind.</summary>
    IReadOnlyList<System.Text.Json.Serialization.Metadata.JsonDerivedType> Events => [];

    /// <summary>
    /// Every change of state a lifecycle of this kind makes, as its events fold (<see cref="LifecycleEvent.ApplyTo"/>):
    /// replay reports any other as an anomaly, and the diagrams in docs/lifecycles.md are checked against it.
    /// </summary>
    IReadOnlyList<LifecycleTransition> Transitions => [];
}

/// <summary>What recovery does with one lifecycle the journal shows live (<see cref="ILifecycleKind.Recover"/>).</summary>
public abstract record LifecycleRecovery
{
    private LifecycleRecovery()
    {
    }

    /// <summary>The lifecycle's object is still live on this device instance: an actor made by <paramref name="Props"/> takes it over.</summary>
    public sealed record Adopt(Props Props) : LifecycleRecovery;

    /// <summary>The object died with the old device instance: the lifecycle is closed as <see cref="Reclaimed"/>.</summary>
    /// <param name="Reason">Why, for the report and the journal.</param>
    /// <param name="TellFrontend">True when the frontend must hear of it (it was handed something of it).</param>
    public sealed record Reclaim(string Reason, bool TellFrontend) : LifecycleRecovery;

    /// <summary>
    /// The lifecycle stays live in the journal (with <paramref name="Events"/> journaled) while the session watches what
    /// the kernel still holds of it (<paramref name="Deferred"/>).
    /// </summary>
    public sealed record Watched(IReadOnlyList<LifecycleEvent> Events, DeferredGrants Deferred, bool TellFrontend) : LifecycleRecovery;
}
