using System.Collections.Immutable;
using System.Runtime.InteropServices;
using System.Text.Json.Serialization;

namespace BufferActors.Actors.Persistence;

/// <summary>
/// The journaled state of one lifecycle: the fold of its events. Immutable; <see cref="Apply"/> returns
/// the next state. Live lifecycles are indexed by the journal and recreated from this after a restart.
/// </summary>
public sealed record LifecycleRecord(
    LifecycleId Id,
    string State,
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
        new(id, "Requested", null, null, [], DmaBufFlags.None, 0, null, 0,
            ImmutableDictionary<string, DmaDirection>.Empty, [], at, at);

    /// <summary>
    /// The refs of an import whose end of access the kernel deferred (<see cref="AccessDeferred"/>), until
    /// <see cref="AccessEnded"/>; empty otherwise.
    /// </summary>
    [JsonIgnore]
    public ImmutableArray<uint> Deferred => DeferredRefs.IsDefault ? [] : DeferredRefs;

    /// <summary>True once a terminal event was applied.</summary>
    public bool IsFinished => State is "Released" or "AccessEnded" or "Unmapped" or "Failed" or "Reclaimed";

    /// <summary>Applies one event of this lifecycle.</summary>
    public LifecycleRecord Apply(LifecycleEvent e) => e switch
    {
        // One copy per event: a lifecycle applies several, and each copy is the whole record.
        ExportRequested r => this with { State = "Requested", Refs = Owned(r.Refs), Flags = r.Flags, PageCount = r.Refs.Length, Updated = e.At },
        Exported x => this with { State = "Exported", Fd = x.Fd, Device = x.Device, PageCount = x.PageCount, Updated = e.At },
        ReservationDecreased d => this with { ReservationPages = ReservationPages + d.Pages, Updated = e.At },
        Attached a => this with { Attachments = Attachments.SetItem(a.Consumer, a.Direction), Updated = e.At },
        Detached d => this with { Attachments = Attachments.Remove(d.Consumer), Updated = e.At },
        ReleaseRequested => this with { State = "Releasing", Updated = e.At },
        Released => this with { State = "Released", Updated = e.At },
        ReservationRestored r => this with { ReservationPages = ReservationPages - r.Pages, Updated = e.At },
        WaitRequested w => this with { OpenWaits = OpenWaits.Add(w.Waiter), Updated = e.At },
        WaitAnswered w => this with { OpenWaits = OpenWaits.Remove(w.Waiter), Updated = e.At },
        ImportRequested i => this with { State = "Requested", Fd = i.Fd, PageCount = i.PageCount, Updated = e.At },
        Granted g => this with { State = "Granted", Refs = Owned(g.Refs), Device = g.Device, Updated = e.At },
        AccessDeferred d => this with { State = "Deferred", DeferredRefs = Owned(d.Refs), Updated = e.At },
        AccessEnded => this with { State = "AccessEnded", DeferredRefs = default, Updated = e.At },
        MapRequested m => this with { State = "Requested", Refs = Owned(m.Refs), PageCount = m.Refs.Length, Updated = e.At },
        Mapped m => this with { State = "Mapped", MapIndex = m.Index, Device = m.Device, Updated = e.At },
        Unmapped => this with { State = "Unmapped", Updated = e.At },
        Failed => this with { State = "Failed", Updated = e.At },
        Reclaimed => this with { State = "Reclaimed", Updated = e.At },
        Quarantined _ => this with { Quarantined = true, Updated = e.At },
        _ => throw new ArgumentException($"unknown event {e.GetType().Name}"),
    };

    /// <summary>
    /// An event's refs, without a copy: an event owns its array — built by the lifecycle that records it, or
    /// read from the journal — and nothing writes to it afterwards. A 1080p export has 2025 refs.
    /// </summary>
    private static ImmutableArray<uint> Owned(uint[] refs) => ImmutableCollectionsMarshal.AsImmutableArray(refs);
}
