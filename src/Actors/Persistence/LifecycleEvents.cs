using System.Text.Json.Serialization;

namespace BufferActors.Actors.Persistence;

/// <summary>
/// One state change of one lifecycle, as journaled. Every lifecycle's state is the fold of its events
/// (<see cref="LifecycleRecord.Apply"/>); nothing else changes it. Events carry the lifecycle's id
/// (kind, domain, sequence) and the time; the journal tags them by domain and kind.
/// </summary>
[JsonPolymorphic(TypeDiscriminatorPropertyName = "$e")]
[JsonDerivedType(typeof(ExportRequested), "export-requested")]
[JsonDerivedType(typeof(Exported), "exported")]
[JsonDerivedType(typeof(ReservationDecreased), "reservation-decreased")]
[JsonDerivedType(typeof(Attached), "attached")]
[JsonDerivedType(typeof(Detached), "detached")]
[JsonDerivedType(typeof(ReleaseRequested), "release-requested")]
[JsonDerivedType(typeof(Released), "released")]
[JsonDerivedType(typeof(ReservationRestored), "reservation-restored")]
[JsonDerivedType(typeof(WaitRequested), "wait-requested")]
[JsonDerivedType(typeof(WaitAnswered), "wait-answered")]
[JsonDerivedType(typeof(ImportRequested), "import-requested")]
[JsonDerivedType(typeof(Granted), "granted")]
[JsonDerivedType(typeof(AccessDeferred), "access-deferred")]
[JsonDerivedType(typeof(AccessEnded), "access-ended")]
[JsonDerivedType(typeof(MapRequested), "map-requested")]
[JsonDerivedType(typeof(Mapped), "mapped")]
[JsonDerivedType(typeof(Unmapped), "unmapped")]
[JsonDerivedType(typeof(Failed), "failed")]
[JsonDerivedType(typeof(Reclaimed), "reclaimed")]
[JsonDerivedType(typeof(Quarantined), "quarantined")]
public abstract record LifecycleEvent(LifecycleId Id, DateTimeOffset At)
{
    /// <summary>True when the lifecycle is over after this event.</summary>
    [JsonIgnore]
    public virtual bool IsTerminal => false;
}

/// <summary>A backend asked to export <paramref name="Refs"/> of the lifecycle's domain.</summary>
public sealed record ExportRequested(LifecycleId Id, DateTimeOffset At, uint[] Refs, DmaBufFlags Flags) : LifecycleEvent(Id, At);

/// <summary>The dma-buf exists as <paramref name="Fd"/> on device instance <paramref name="Device"/>.</summary>
public sealed record Exported(LifecycleId Id, DateTimeOffset At, int Fd, int PageCount, Guid Device) : LifecycleEvent(Id, At);

/// <summary>A DMA-backed export lowered the backend's reservation by <paramref name="Pages"/>.</summary>
public sealed record ReservationDecreased(LifecycleId Id, DateTimeOffset At, int Pages) : LifecycleEvent(Id, At);

/// <summary>A consumer attached and maps the buffer in <paramref name="Direction"/>.</summary>
public sealed record Attached(LifecycleId Id, DateTimeOffset At, string Consumer, DmaDirection Direction) : LifecycleEvent(Id, At);

/// <summary>A consumer detached.</summary>
public sealed record Detached(LifecycleId Id, DateTimeOffset At, string Consumer) : LifecycleEvent(Id, At);

/// <summary>The owner asked for release (export: once consumers detach; import: IMP_RELEASE; map: unmap).</summary>
public sealed record ReleaseRequested(LifecycleId Id, DateTimeOffset At) : LifecycleEvent(Id, At);

/// <summary>The export is released: grants unmapped by the kernel, fd gone.</summary>
public sealed record Released(LifecycleId Id, DateTimeOffset At) : LifecycleEvent(Id, At)
{
    /// <inheritdoc />
    public override bool IsTerminal => true;
}

/// <summary>The reservation lowered by <see cref="ReservationDecreased"/> is back.</summary>
public sealed record ReservationRestored(LifecycleId Id, DateTimeOffset At, int Pages) : LifecycleEvent(Id, At);

/// <summary>A caller waits for the export's release (waiter <paramref name="Waiter"/>).</summary>
public sealed record WaitRequested(LifecycleId Id, DateTimeOffset At, long Waiter, TimeSpan Timeout) : LifecycleEvent(Id, At);

/// <summary>Waiter <paramref name="Waiter"/> got its one answer.</summary>
public sealed record WaitAnswered(LifecycleId Id, DateTimeOffset At, long Waiter, WaitReleasedResult Result) : LifecycleEvent(Id, At);

/// <summary>A backend asked to import dma-buf <paramref name="Fd"/> as <paramref name="PageCount"/> pages granted to the domain.</summary>
public sealed record ImportRequested(LifecycleId Id, DateTimeOffset At, int Fd, int PageCount) : LifecycleEvent(Id, At);

/// <summary>The pages are granted as <paramref name="Refs"/> on device instance <paramref name="Device"/>.</summary>
public sealed record Granted(LifecycleId Id, DateTimeOffset At, uint[] Refs, Guid Device) : LifecycleEvent(Id, At);

/// <summary>
/// IMP_RELEASE ran, but the kernel deferred the end of <paramref name="Refs"/>: the frontend still maps them, so
/// the grant table keeps them and their pages until it unmaps. The lifecycle stays live, holding nothing of
/// the device's, until <see cref="AccessEnded"/> (journaled once the device reports them ended) or
/// <see cref="Reclaimed"/> (after a restart on a device that cannot tell).
/// </summary>
public sealed record AccessDeferred(LifecycleId Id, DateTimeOffset At, uint[] Refs) : LifecycleEvent(Id, At);

/// <summary>
/// Every grant of the import ended: at IMP_RELEASE, or later once the refs of <see cref="AccessDeferred"/> ended
/// (on a device that cannot report deferrals, at IMP_RELEASE, whatever the kernel deferred).
/// </summary>
public sealed record AccessEnded(LifecycleId Id, DateTimeOffset At) : LifecycleEvent(Id, At)
{
    /// <inheritdoc />
    public override bool IsTerminal => true;
}

/// <summary>A backend asked to map <paramref name="Refs"/> for CPU access.</summary>
public sealed record MapRequested(LifecycleId Id, DateTimeOffset At, uint[] Refs, bool ReadOnly) : LifecycleEvent(Id, At);

/// <summary>Mapped at <paramref name="Index"/> on device instance <paramref name="Device"/>.</summary>
public sealed record Mapped(LifecycleId Id, DateTimeOffset At, ulong Index, Guid Device) : LifecycleEvent(Id, At);

/// <summary>Unmapped.</summary>
public sealed record Unmapped(LifecycleId Id, DateTimeOffset At) : LifecycleEvent(Id, At)
{
    /// <inheritdoc />
    public override bool IsTerminal => true;
}

/// <summary>The request was refused or the lifecycle failed; what it held was released.</summary>
public sealed record Failed(LifecycleId Id, DateTimeOffset At, ErrorCode Code, string Reason, Errno? Errno) : LifecycleEvent(Id, At)
{
    /// <inheritdoc />
    public override bool IsTerminal => true;
}

/// <summary>After a restart, the device no longer had the object (its process died): closed without action.</summary>
public sealed record Reclaimed(LifecycleId Id, DateTimeOffset At, string Reason) : LifecycleEvent(Id, At)
{
    /// <inheritdoc />
    public override bool IsTerminal => true;
}

/// <summary>
/// The export's own reference is given up but a holder the lifecycle was not told about keeps the buffer
/// alive after <paramref name="HeldFor"/>: it is quarantined — still live, still polled, its number and
/// reservation kept — until the kernel releases it.
/// </summary>
public sealed record Quarantined(LifecycleId Id, DateTimeOffset At, TimeSpan HeldFor) : LifecycleEvent(Id, At);
