using BufferActors.Actors.Persistence;

namespace BufferActors.Actors.Lifecycles;

/// <summary>Imported dma-bufs granted to frontends as the manager, the supervisors and recovery see them.</summary>
public sealed class ImportKind : ILifecycleKind
{
    /// <inheritdoc />
    public LifecycleKind Kind => LifecycleKind.Import;

    /// <inheritdoc />
    public Type RequestType => typeof(ImportAttachment.Import);

    /// <inheritdoc />
    public bool IsBuffer => true;

    /// <inheritdoc />
    public int ReusedActors => 0;

    /// <inheritdoc />
    /// <remarks>First: ending the grants is what a dead frontend's pages wait for (ended, or deferred by the kernel).</remarks>
    public int CleanupPhase => 0;

    /// <inheritdoc />
    public object? CleanupMessage(LifecycleId id) => null;

    /// <inheritdoc />
    /// <remarks>A negative fd with the kernel's EBADF.</remarks>
    public OperationFailed? Refusal(ILifecycleRequest request) =>
        ((ImportAttachment.Import)request).Fd is < 0 and var fd ? new(ErrorCode.InvalidArgument, $"fd {fd} is not a file descriptor", Errno.EBADF) : null;

    /// <inheritdoc />
    public Props Props(LifecycleId id, LifecycleServices services) => ImportAttachment.Props(id, services);

    /// <inheritdoc />
    /// <remarks>
    /// Grants the kernel still holds on its deferred list outlive the gntdev file (the grant table is the
    /// hypervisor's): an import whose refs are pending — deferred at a release the journal recorded, or at the close of
    /// the old process's gntdev file — stays live in the journal and is watched until they end.
    /// </remarks>
    public LifecycleRecovery Recover(LifecycleRecord record, LifecycleServices services)
    {
        var session = services.Session;
        bool deferred = record.State == ImportState.Deferred;
        bool sameInstance = record.Device == session.InstanceId;
        // An import adopted on this very instance still holds its grants: nothing of it was released.
        if (!sameInstance || deferred)
        {
            var pending = session.StillDeferred([.. deferred ? record.Deferred : record.Refs]);
            if (pending.Length > 0)
            {
                var now = services.Clock.GetUtcNow();
                var grants = new DeferredGrants(record.Id, pending, deferred ? record.Updated : now);
                ImportAttachmentActor.WatchUntilEnded(services, grants, journaled: true);
                return new LifecycleRecovery.Watched(deferred ? [] : [new AccessDeferred(record.Id, now, pending)], grants, TellFrontend: !deferred);
            }
            if (deferred)
                return new LifecycleRecovery.Reclaim("no deferred grant of it is pending any more (or the device cannot tell: the kernel ends them on its own)", TellFrontend: false);
            return new LifecycleRecovery.Reclaim("the old gntdev instance was closed: its grants were ended (or deferred by the kernel until the frontend unmaps)", TellFrontend: true);
        }
        return new LifecycleRecovery.Adopt(ImportAttachment.Adopt(services, record));
    }

    /// <inheritdoc />
    public IReadOnlyList<System.Text.Json.Serialization.Metadata.JsonDerivedType> Events => ImportState.Events;

    /// <inheritdoc />
    public IReadOnlyList<LifecycleTransition> Transitions => ImportState.Transitions;
}
