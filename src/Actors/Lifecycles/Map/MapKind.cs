using BufferActors.Actors.Persistence;

namespace BufferActors.Actors.Lifecycles;

/// <summary>Grant maps as the manager, the supervisors and recovery see them.</summary>
public sealed class MapKind : ILifecycleKind
{
    /// <inheritdoc />
    public LifecycleKind Kind => LifecycleKind.Map;

    /// <inheritdoc />
    public Type RequestType => typeof(GrantMap.Map);

    /// <inheritdoc />
    public bool IsBuffer => false;

    /// <inheritdoc />
    public int ReusedActors => 0;

    /// <inheritdoc />
    /// <remarks>After imports, before exports: unmapping takes the backend's CPU view of the frontend's pages away.</remarks>
    public int CleanupPhase => 1;

    /// <inheritdoc />
    public object? CleanupMessage(LifecycleId id) => null;

    /// <inheritdoc />
    public OperationFailed? Refusal(ILifecycleRequest request) => null;

    /// <inheritdoc />
    public Props Props(LifecycleId id, LifecycleServices services) => GrantMap.Props(id, services);

    /// <inheritdoc />
    /// <remarks>A mapping lives in the process's address space, which the journal cannot give back (docs/journal.md).</remarks>
    public LifecycleRecovery Recover(LifecycleRecord record, LifecycleServices services) =>
        new LifecycleRecovery.Reclaim(record.Device == services.Session.InstanceId
            ? "a mapping cannot be adopted; it is unmapped when this process exits"
            : "unmapped when the old process exited", TellFrontend: false);

    /// <inheritdoc />
    public IReadOnlyList<System.Text.Json.Serialization.Metadata.JsonDerivedType> Events => MapState.Events;

    /// <inheritdoc />
    public IReadOnlyList<LifecycleTransition> Transitions => MapState.Transitions;
}
