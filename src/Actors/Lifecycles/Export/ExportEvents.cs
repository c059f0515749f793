using BufferActors.Actors.Lifecycles;

namespace BufferActors.Actors.Persistence;

/// <summary>A backend asked to export <paramref name="Refs"/> of the lifecycle's domain.</summary>
public sealed record ExportRequested(LifecycleId Id, DateTimeOffset At, uint[] Refs, DmaBufFlags Flags) : LifecycleEvent(Id, At)
{
    /// <inheritdoc />
    public override bool Opens => true;

    /// <inheritdoc />
    public override LifecycleRecord ApplyTo(LifecycleRecord state) =>
        state with { State = LifecycleState.Requested, Refs = LifecycleRecord.Owned(Refs), Flags = Flags, PageCount = Refs.Length, Updated = At };
}

/// <summary>The dma-buf exists as <paramref name="Fd"/> on device instance <paramref name="Device"/>.</summary>
public sealed record Exported(LifecycleId Id, DateTimeOffset At, int Fd, int PageCount, Guid Device) : LifecycleEvent(Id, At)
{
    /// <inheritdoc />
    public override LifecycleRecord ApplyTo(LifecycleRecord state) =>
        state with { State = ExportState.Exported, Fd = Fd, Device = Device, PageCount = PageCount, Updated = At };
}

/// <summary>A DMA-backed export lowered the backend's reservation by <paramref name="Pages"/>.</summary>
public sealed record ReservationDecreased(LifecycleId Id, DateTimeOffset At, int Pages) : LifecycleEvent(Id, At)
{
    /// <inheritdoc />
    public override LifecycleRecord ApplyTo(LifecycleRecord state) => state with { ReservationPages = state.ReservationPages + Pages, Updated = At };
}

/// <summary>A consumer attached and maps the buffer in <paramref name="Direction"/>.</summary>
public sealed record Attached(LifecycleId Id, DateTimeOffset At, string Consumer, DmaDirection Direction) : LifecycleEvent(Id, At)
{
    /// <inheritdoc />
    public override LifecycleRecord ApplyTo(LifecycleRecord state) => state with { Attachments = state.Attachments.SetItem(Consumer, Direction), Updated = At };
}

/// <summary>A consumer detached.</summary>
public sealed record Detached(LifecycleId Id, DateTimeOffset At, string Consumer) : LifecycleEvent(Id, At)
{
    /// <inheritdoc />
    public override LifecycleRecord ApplyTo(LifecycleRecord state) => state with { Attachments = state.Attachments.Remove(Consumer), Updated = At };
}

/// <summary>The export is released: grants unmapped by the kernel, fd gone.</summary>
public sealed record Released(LifecycleId Id, DateTimeOffset At) : LifecycleEvent(Id, At)
{
    /// <inheritdoc />
    public override bool IsTerminal => true;

    /// <inheritdoc />
    public override LifecycleRecord ApplyTo(LifecycleRecord state) => state with { State = ExportState.Released, Updated = At };
}

/// <summary>The reservation lowered by <see cref="ReservationDecreased"/> is back.</summary>
public sealed record ReservationRestored(LifecycleId Id, DateTimeOffset At, int Pages) : LifecycleEvent(Id, At)
{
    /// <inheritdoc />
    public override LifecycleRecord ApplyTo(LifecycleRecord state) => state with { ReservationPages = state.ReservationPages - Pages, Updated = At };
}

/// <summary>A caller waits for the export's release (waiter <paramref name="Waiter"/>).</summary>
public sealed record WaitRequested(LifecycleId Id, DateTimeOffset At, long Waiter, TimeSpan Timeout) : LifecycleEvent(Id, At)
{
    /// <inheritdoc />
    public override LifecycleRecord ApplyTo(LifecycleRecord state) => state with { OpenWaits = state.OpenWaits.Add(Waiter), Updated = At };
}

/// <summary>Waiter <paramref name="Waiter"/> got its one answer.</summary>
public sealed record WaitAnswered(LifecycleId Id, DateTimeOffset At, long Waiter, WaitReleasedResult Result) : LifecycleEvent(Id, At)
{
    /// <inheritdoc />
    public override LifecycleRecord ApplyTo(LifecycleRecord state) => state with { OpenWaits = state.OpenWaits.Remove(Waiter), Updated = At };
}

/// <summary>
/// The export's own reference is given up but a holder the lifecycle was not told about keeps the buffer
/// alive after <paramref name="HeldFor"/>: it is quarantined — still live, still polled, its number and
/// reservation kept — until the kernel releases it.
/// </summary>
public sealed record Quarantined(LifecycleId Id, DateTimeOffset At, TimeSpan HeldFor) : LifecycleEvent(Id, At)
{
    /// <inheritdoc />
    public override LifecycleRecord ApplyTo(LifecycleRecord state) => state with { Quarantined = true, Updated = At };
}
