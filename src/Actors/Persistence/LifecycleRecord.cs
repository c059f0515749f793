using System.Collections.Immutable;
using System.Runtime.InteropServices;
using System.Text.Json.Serialization;
using BufferActors.Actors.Lifecycles;

namespace BufferActors.Actors.Persistence;

/// <summary>
/// The journaled state of one lifecycle: the fold of its events. Immutable; <see cref="Apply"/> returns
/// the next state. One record serves every kind: each kind's events set the fields it uses, and the snapshot
/// format is the same for all. Live lifecycles are indexed by the journal and recreated from this after a restart.
/// </summary>
public sealed record LifecycleRecord(
    LifecycleId Id,
    LifecycleState State,
    int? Fd,
    Guid? Device,
    ImmutableArray<uint> Refs,
    DmaBufFlags Flags,
    int PageCount,
    ulong? MapIndex,
    int ReservationPages,
    ImmutableDictionary<string, DmaDirection> Attachments,
    ImmutableHashSet<long> OpenWaits,
    DateTimeOffset Since,
    DateTimeOffset Updated,
    bool Quarantined = false,
    // Absent from snapshots of records that never had deferred refs (a default ImmutableArray cannot be written).
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] ImmutableArray<uint> DeferredRefs = default)
{
    /// <summary>The state before the first event.</summary>
    public static LifecycleRecord Start(LifecycleId id, DateTimeOffset at) =>
        new(id, LifecycleState.Requested, null, null, [], DmaBufFlags.None, 0, null, 0,
            ImmutableDictionary<string, DmaDirection>.Empty, [], at, at);

    /// <summary>
    /// The refs of an import whose end of access the kernel deferred (<see cref="AccessDeferred"/>), until
    /// <see cref="AccessEnded"/>; empty otherwise.
    /// </summary>
    [JsonIgnore]
    public ImmutableArray<uint> Deferred => DeferredRefs.IsDefault ? [] : DeferredRefs;

    /// <summary>True once a terminal event was applied.</summary>
    public bool IsFinished => State.IsTerminal;

    /// <summary>Applies one event of this lifecycle: the event's own step (<see cref="LifecycleEvent.ApplyTo"/>).</summary>
    public LifecycleRecord Apply(LifecycleEvent e) => e.ApplyTo(this);

    /// <summary>
    /// An event's refs, without a copy: an event owns its array — built by the lifecycle that records it, or
    /// read from the journal — and nothing writes to it afterwards. A 1080p export has 2025 refs.
    /// </summary>
    internal static ImmutableArray<uint> Owned(uint[] refs) => ImmutableCollectionsMarshal.AsImmutableArray(refs);
}
