using System.Text.Json.Serialization.Metadata;
using BufferActors.Actors.Persistence;

namespace BufferActors.Actors.Lifecycles;

/// <summary>The states a grant map goes through, besides <see cref="LifecycleState"/>'s common ones, and how it moves between them.</summary>
public static class MapState
{
    /// <summary>The refs are mapped into the backend.</summary>
    public static readonly LifecycleState Mapped = LifecycleState.Define("Mapped");

    /// <summary>Unmapped.</summary>
    public static readonly LifecycleState Unmapped = LifecycleState.Define("Unmapped", terminal: true);

    /// <summary>The journal's names of a map's own events.</summary>
    public static IReadOnlyList<JsonDerivedType> Events { get; } =
    [
        new(typeof(MapRequested), "map-requested"),
        new(typeof(Mapped), "mapped"),
        new(typeof(Unmapped), "unmapped"),
    ];

    /// <summary>
    /// Every change of state a map makes. An unmap journals <c>release-requested</c> with <c>unmapped</c> in one write;
    /// a lifecycle that stopped unmaps without a request.
    /// </summary>
    public static IReadOnlyList<LifecycleTransition> Transitions { get; } =
    [
        new(null, "map-requested", LifecycleState.Requested),
        new(LifecycleState.Requested, "mapped", Mapped),
        new(LifecycleState.Requested, "failed", LifecycleState.Failed),
        new(Mapped, "release-requested", LifecycleState.Releasing),
        new(Mapped, "unmapped", Unmapped),
        new(Mapped, "reclaimed", LifecycleState.Reclaimed),
        new(LifecycleState.Releasing, "unmapped", Unmapped),
    ];
}
