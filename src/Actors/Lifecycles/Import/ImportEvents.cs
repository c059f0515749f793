using BufferActors.Actors.Lifecycles;

namespace BufferActors.Actors.Persistence;

/// <summary>A backend asked to import dma-buf <paramref name="Fd"/> as <paramref name="PageCount"/> pages granted to the domain.</summary>
public sealed record ImportRequested(LifecycleId Id, DateTimeOffset At, int Fd, int PageCount) : LifecycleEvent(Id, At)
{
    /// <inheritdoc />
    public override bool Opens => true;

    /// <inheritdoc />
    public override LifecycleRecord ApplyTo(LifecycleRecord state) =>
        state with { State = LifecycleState.Requested, Fd = Fd, PageCount = PageCount, Updated = At };
}

/// <summary>The pages are granted as <paramref name="Refs"/> on device instance <paramref name="Device"/>.</summary>
public sealed record Granted(LifecycleId Id, DateTimeOffset At, uint[] Refs, Guid Device) : LifecycleEvent(Id, At)
{
    /// <inheritdoc />
    public override LifecycleRecord ApplyTo(LifecycleRecord state) =>
        state with { State = ImportState.Granted, Refs = LifecycleRecord.Owned(Refs), Device = Device, Updated = At };
}

/// <summary>
/// IMP_RELEASE ran, but the kernel deferred the end of <paramref name="Refs"/>: the frontend still maps them, so
/// the grant table keeps them and their pages until it unmaps. The lifecycle stays live, holding nothing of
/// the device's, until <see cref="AccessEnded"/> (journaled once the device reports them ended) or
/// <see cref="Reclaimed"/> (after a restart on a device that cannot tell).
/// </summary>
public sealed record AccessDeferred(LifecycleId Id, DateTimeOffset At, uint[] Refs) : LifecycleEvent(Id, At)
{
    /// <inheritdoc />
    public override LifecycleRecord ApplyTo(LifecycleRecord state) =>
        state with { State = ImportState.Deferred, DeferredRefs = LifecycleRecord.Owned(Refs), Updated = At };
}

/// <summary>
/// Every grant of the import ended: at IMP_RELEASE, or later once the refs of <see cref="AccessDeferred"/> ended
/// (on a device that cannot report deferrals, at IMP_RELEASE, whatever the kernel deferred).
/// </summary>
public sealed record AccessEnded(LifecycleId Id, DateTimeOffset At) : LifecycleEvent(Id, At)
{
    /// <inheritdoc />
    public override bool IsTerminal => true;

    /// <inheritdoc />
    public override LifecycleRecord ApplyTo(LifecycleRecord state) => state with { State = ImportState.AccessEnded, DeferredRefs = default, Updated = At };
}
