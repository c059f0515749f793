namespace BufferActors.Native.Simulation;

/// <summary>
/// A v1 grant table: one 8-byte entry per reference (flags, domid, frame) plus a 4-byte count of
/// the grantee's live mappings. This is the hypervisor's view; it is never touched outside the
/// simulator's lock.
/// </summary>
internal sealed class GrantTable
{
    /// <summary>GTF_permit_access: the entry grants access.</summary>
    public const ushort GtfPermitAccess = 1;
    /// <summary>GTF_readonly: the grantee may only map it read-only.</summary>
    public const ushort GtfReadonly = 1 << 2;
    /// <summary>GTF_reading: set by the hypervisor while the grantee maps the page.</summary>
    public const ushort GtfReading = 1 << 3;
    /// <summary>GTF_writing: set by the hypervisor while the grantee maps the page writable.</summary>
    public const ushort GtfWriting = 1 << 4;
    /// <summary>
    /// Not a v1 bit: marks an entry whose frame is itself a foreign grant mapping in the granter's space
    /// (a gntdev export imported again). The granter cannot vouch for such a page; mapping it is GNTST_bad_page.
    /// </summary>
    private const ushort ForeignFrame = 1 << 15;
    /// <summary>GNTTAB_NR_RESERVED_ENTRIES: refs below this are used by the toolstack, never handed out.</summary>
    public const uint ReservedEntries = 8;

    private struct Entry
    {
        public ushort Flags;
        public ushort Domid;
        public uint Frame;
    }

    private Entry[] _entries = new Entry[64];
    private ushort[] _readers = new ushort[64];
    private ushort[] _writers = new ushort[64];
    private readonly Stack<uint> _free = new();
    private uint _next = ReservedEntries;

    public GrantTable(int capacity) => Capacity = capacity;

    /// <summary>Maximum number of entries (grant frames × 512 in v1).</summary>
    public int Capacity { get; }

    /// <summary>Entries currently granting access.</summary>
    public int Granted { get; private set; }

    /// <summary>Entries currently mapped by their grantee.</summary>
    public int InUse { get; private set; }

    /// <summary>One past the highest reference ever handed out.</summary>
    public uint HighWater => _next;

    /// <summary>References that can still be handed out.</summary>
    public int FreeCount => Capacity - (int)_next + _free.Count;

    /// <summary>
    /// Grants <paramref name="frame"/> to <paramref name="grantee"/>; ENOSPC when the table is full. A
    /// <paramref name="foreignFrame"/> is a page the granter only maps from another domain: the grant is made
    /// (the kernel does not check), but mapping it answers GNTST_bad_page.
    /// </summary>
    public uint Grant(DomainId grantee, uint frame, bool readOnly, bool foreignFrame = false)
    {
        uint gref = Allocate();
        ref var e = ref _entries[gref];
        e.Domid = grantee.Value;
        e.Frame = frame;
        e.Flags = (ushort)(GtfPermitAccess | (readOnly ? GtfReadonly : 0) | (foreignFrame ? ForeignFrame : 0));
        Granted++;
        return gref;
    }

    /// <summary>
    /// gnttab_end_foreign_access_ref (v1): revokes the grant unless the grantee still maps it,
    /// in which case nothing changes and false is returned.
    /// </summary>
    public bool TryEndAccess(uint gref)
    {
        if (!IsGranted(gref)) throw new InvalidOperationException($"ref {gref} is not granted");
        ref var e = ref _entries[gref];
        if ((e.Flags & (GtfReading | GtfWriting)) != 0) return false;
        e = default;
        Granted--;
        _free.Push(gref);
        return true;
    }

    /// <summary>True when <paramref name="gref"/> currently grants access.</summary>
    public bool IsGranted(uint gref) => gref < _next && (_entries[gref].Flags & GtfPermitAccess) != 0;

    /// <summary>True when the grantee maps <paramref name="gref"/>.</summary>
    public bool IsInUse(uint gref) => gref < _next && (_entries[gref].Flags & (GtfReading | GtfWriting)) != 0;

    /// <summary>The frame behind a granted ref.</summary>
    public uint FrameOf(uint gref) => _entries[gref].Frame;

    /// <summary>The grantee of a granted ref.</summary>
    public DomainId GranteeOf(uint gref) => new(_entries[gref].Domid);

    /// <summary>
    /// The hypervisor's checks of GNTTABOP_map_grant_ref on this (the granter's) table:
    /// unknown or revoked ref → bad_gntref; wrong grantee or a writable map of a read-only grant →
    /// general_error (Xen's "bad flags or dom"). On success the entry is pinned (GTF_reading/writing).
    /// </summary>
    public GrantStatus Map(uint gref, DomainId mapper, bool readOnly, out uint frame)
    {
        frame = 0;
        if (!IsGranted(gref)) return GrantStatus.BadGntref;
        ref var e = ref _entries[gref];
        if (e.Domid != mapper.Value) return GrantStatus.GeneralError;
        if (!readOnly && (e.Flags & GtfReadonly) != 0) return GrantStatus.GeneralError;
        if ((e.Flags & ForeignFrame) != 0) return GrantStatus.BadPage;
        if (_readers[gref] == ushort.MaxValue) return GrantStatus.NoDeviceSpace;
        if (_readers[gref]++ == 0) InUse++;
        e.Flags |= GtfReading;
        if (!readOnly)
        {
            _writers[gref]++;
            e.Flags |= GtfWriting;
        }
        frame = e.Frame;
        return GrantStatus.Okay;
    }

    /// <summary>GNTTABOP_unmap_grant_ref: drops one mapping; clears the in-use flags with the last one.</summary>
    public void Unmap(uint gref, bool readOnly)
    {
        if (_readers[gref] == 0) throw new InvalidOperationException($"ref {gref} is not mapped");
        ref var e = ref _entries[gref];
        if (!readOnly && --_writers[gref] == 0) e.Flags &= unchecked((ushort)~GtfWriting);
        if (--_readers[gref] == 0)
        {
            e.Flags &= unchecked((ushort)~(GtfReading | GtfWriting));
            InUse--;
        }
    }

    private uint Allocate()
    {
        if (_free.Count > 0) return _free.Pop();
        if (_next >= (uint)Capacity)
            throw new GntdevException("gnttab_grant_foreign_access", Errno.ENOSPC, $"grant table full ({Capacity} entries)");
        if (_next == _entries.Length)
        {
            int size = Math.Min(Capacity, _entries.Length * 2);
            Array.Resize(ref _entries, size);
            Array.Resize(ref _readers, size);
            Array.Resize(ref _writers, size);
        }
        return _next++;
    }
}
