using System.Text.Json.Serialization.Metadata;
using BufferActors.Actors.Lifecycles;

namespace BufferActors.Actors.Persistence;

/// <summary>The owner asked for release (export: once consumers detach; import: IMP_RELEASE; map: unmap).</summary>
public sealed record ReleaseRequested(LifecycleId Id, DateTimeOffset At) : LifecycleEvent(Id, At)
{
    /// <inheritdoc />
    public override LifecycleRecord ApplyTo(LifecycleRecord state) => state with { State = LifecycleState.Releasing, Updated = At };
}

/// <summary>The request was refused or the lifecycle failed; what it held was released.</summary>
public sealed record Failed(LifecycleId Id, DateTimeOffset At, ErrorCode Code, string Reason, Errno? Errno) : LifecycleEvent(Id, At)
{
    /// <inheritdoc />
    public override bool IsTerminal => true;

    /// <inheritdoc />
    public override LifecycleRecord ApplyTo(LifecycleRecord state) => state with { State = LifecycleState.Failed, Updated = At };
}

/// <summary>After a restart, the device no longer had the object (its process died): closed without action.</summary>
public sealed record Reclaimed(LifecycleId Id, DateTimeOffset At, string Reason) : LifecycleEvent(Id, At)
{
    /// <inheritdoc />
    public override bool IsTerminal => true;

    /// <inheritdoc />
    public override LifecycleRecord ApplyTo(LifecycleRecord state) => state with { State = LifecycleState.Reclaimed, Updated = At };
}

/// <summary>The events every kind journals, with the journal's names for them.</summary>
public static class CommonLifecycleEvents
{
    /// <summary>The journal's names of the events every kind shares.</summary>
    public static IReadOnlyList<JsonDerivedType> Types { get; } =
    [
        new(typeof(ReleaseRequested), "release-requested"),
        new(typeof(Failed), "failed"),
        new(typeof(Reclaimed), "reclaimed"),
    ];
}
