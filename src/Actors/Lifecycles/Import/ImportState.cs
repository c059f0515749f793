using System.Text.Json.Serialization.Metadata;
using BufferActors.Actors.Persistence;

namespace BufferActors.Actors.Lifecycles;

/// <summary>The states an import lifecycle goes through, besides <see cref="LifecycleState"/>'s common ones, and how it moves between them.</summary>
public static class ImportState
{
    /// <summary>The device's buffer is imported and its pages granted to the frontend.</summary>
    public static readonly LifecycleState Granted = LifecycleState.Define("Granted");

    /// <summary>Released, but the frontend still maps some refs: the kernel ends them when it unmaps.</summary>
    public static readonly LifecycleState Deferred = LifecycleState.Define("Deferred");

    /// <summary>Every grant ended.</summary>
    public static readonly LifecycleState AccessEnded = LifecycleState.Define("AccessEnded", terminal: true);

    /// <summary>The journal's names of an import's own events.</summary>
    public static IReadOnlyList<JsonDerivedType> Events { get; } =
    [
        new(typeof(ImportRequested), "import-requested"),
        new(typeof(Granted), "granted"),
        new(typeof(AccessDeferred), "access-deferred"),
        new(typeof(AccessEnded), "access-ended"),
    ];

    /// <summary>
    /// Every change of state an import makes. A release journals <c>release-requested</c> with its outcome in one
    /// write; a lifecycle that stopped (its domain died, a failure) ends or defers its grants without a request.
    /// </summary>
    public static IReadOnlyList<LifecycleTransition> Transitions { get; } =
    [
        new(null, "import-requested", LifecycleState.Requested),
        new(LifecycleState.Requested, "granted", Granted),
        new(LifecycleState.Requested, "failed", LifecycleState.Failed),
        new(Granted, "release-requested", LifecycleState.Releasing),
        new(Granted, "access-ended", AccessEnded),
        new(Granted, "access-deferred", Deferred),
        new(Granted, "reclaimed", LifecycleState.Reclaimed),
        new(LifecycleState.Releasing, "access-ended", AccessEnded),
        new(LifecycleState.Releasing, "access-deferred", Deferred),
        new(Deferred, "access-ended", AccessEnded),
        new(Deferred, "reclaimed", LifecycleState.Reclaimed),
    ];
}
