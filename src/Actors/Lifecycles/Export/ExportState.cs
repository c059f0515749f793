using System.Text.Json.Serialization.Metadata;
using BufferActors.Actors.Persistence;

namespace BufferActors.Actors.Lifecycles;

/// <summary>The states an export lifecycle goes through, besides <see cref="LifecycleState"/>'s common ones, and how it moves between them.</summary>
public static class ExportState
{
    /// <summary>Exported; consumers may attach.</summary>
    public static readonly LifecycleState Exported = LifecycleState.Define("Exported");

    /// <summary>Released by the kernel: grants unmapped, reservation restored.</summary>
    public static readonly LifecycleState Released = LifecycleState.Define("Released", terminal: true);

    /// <summary>The journal's names of an export's own events.</summary>
    public static IReadOnlyList<JsonDerivedType> Events { get; } =
    [
        new(typeof(ExportRequested), "export-requested"),
        new(typeof(Exported), "exported"),
        new(typeof(ReservationDecreased), "reservation-decreased"),
        new(typeof(Attached), "attached"),
        new(typeof(Detached), "detached"),
        new(typeof(Released), "released"),
        new(typeof(ReservationRestored), "reservation-restored"),
        new(typeof(WaitRequested), "wait-requested"),
        new(typeof(WaitAnswered), "wait-answered"),
        new(typeof(Quarantined), "quarantined"),
    ];

    /// <summary>
    /// Every change of state an export makes. <c>released</c> straight from Exported: a lifecycle stopped (its domain
    /// died, a failure) gives up its reference, and the kernel's release is journaled when it comes.
    /// </summary>
    public static IReadOnlyList<LifecycleTransition> Transitions { get; } =
    [
        new(null, "export-requested", LifecycleState.Requested),
        new(LifecycleState.Requested, "exported", Exported),
        new(LifecycleState.Requested, "failed", LifecycleState.Failed),
        new(Exported, "release-requested", LifecycleState.Releasing),
        new(Exported, "released", Released),
        new(Exported, "reclaimed", LifecycleState.Reclaimed),
        new(LifecycleState.Releasing, "released", Released),
        new(LifecycleState.Releasing, "reclaimed", LifecycleState.Reclaimed),
    ];
}
