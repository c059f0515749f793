using BufferActors.Actors.Lifecycles;

namespace BufferActors.Actors.Persistence;

/// <summary>A backend asked to map <paramref name="Refs"/> for CPU access.</summary>
public sealed record MapRequested(LifecycleId Id, DateTimeOffset At, uint[] Refs, bool ReadOnly) : LifecycleEvent(Id, At)
{
    /// <inheritdoc />
    public override bool Opens => true;

    /// <inheritdoc />
    public override LifecycleRecord ApplyTo(LifecycleRecord state) =>
        state with { State = LifecycleState.Requested, Refs = LifecycleRecord.Owned(Refs), PageCount = Refs.Length, Updated = At };
}

/// <summary>Mapped at <paramref name="Index"/> on device instance <paramref name="Device"/>.</summary>
public sealed record Mapped(LifecycleId Id, DateTimeOffset At, ulong Index, Guid Device) : LifecycleEvent(Id, At)
{
    /// <inheritdoc />
    public override LifecycleRecord ApplyTo(LifecycleRecord state) => state with { State = MapState.Mapped, MapIndex = Index, Device = Device, Updated = At };
}

/// <summary>Unmapped.</summary>
public sealed record Unmapped(LifecycleId Id, DateTimeOffset At) : LifecycleEvent(Id, At)
{
    /// <inheritdoc />
    public override bool IsTerminal => true;

    /// <inheritdoc />
    public override LifecycleRecord ApplyTo(LifecycleRecord state) => state with { State = MapState.Unmapped, Updated = At };
}
