namespace BufferActors.Native.Simulation;

/// <summary>
/// A simulated Xen domain: sparse pseudo-physical memory, a v1 grant table, a memory reservation,
/// and the mappings it holds of other domains' grants. The methods here are what a frontend (or
/// the hypervisor on its behalf) does; the backend side goes through <see cref="SimulatedGrantDevice"/>.
/// </summary>
public sealed class SimulatedDomain
{
    private readonly XenSimulator _sim;
    private readonly Dictionary<int, ForeignMap> _foreign = [];
    private readonly Stack<uint> _freeFrames = new();
    private uint _nextFrame;
    private int _nextHandle = 1;

    internal SimulatedDomain(XenSimulator sim, DomainId id, int pages, int grantEntries)
    {
        _sim = sim;
        Id = id;
        Memory = new DomainMemory($"xen-sim-{id}", pages);
        Grants = new GrantTable(grantEntries);
        BaselineReservation = pages;
        Reservation = pages;
        GntallocLimit = sim.Options.GntallocLimit;
    }

    /// <summary>The domain id.</summary>
    public DomainId Id { get; }

    /// <summary>False once the domain was destroyed or crashed.</summary>
    public bool IsAlive { get; private set; } = true;

    /// <summary>The domain's memory.</summary>
    public DomainMemory Memory { get; }

    internal GrantTable Grants { get; }

    /// <summary>Pages the domain had reserved when created.</summary>
    public long BaselineReservation { get; }

    /// <summary>Pages currently reserved (lowered while DMA-backed exports hold frames).</summary>
    public long Reservation { get; internal set; }

    /// <summary>The gntalloc limit of this domain's kernel (settable like the module parameter).</summary>
    public int GntallocLimit { get; set; }

    /// <summary>
    /// gntalloc's gref_size: the grants this domain's gntalloc instances hold together, as the module counts
    /// them. Signed, and compared with the (unsigned) limit, so a negative count refuses every allocation;
    /// see <see cref="SimulatedGrantAllocator"/> for how it goes negative.
    /// </summary>
    internal int GntallocGrants { get; set; }

    /// <summary>Open gntalloc instances of this domain's kernel (the module cannot be unloaded while any is open).</summary>
    internal int GntallocInstances { get; set; }

    /// <summary>
    /// Unloads and reloads xen-gntalloc: its grant count starts again at 0 and its limit at the default.
    /// EBUSY while an instance is open.
    /// </summary>
    public void ReloadGntalloc()
    {
        using (_sim.Gate.Enter())
        {
            if (GntallocInstances > 0)
                throw new GntdevException("delete_module", Errno.EBUSY, $"xen-gntalloc is in use by {GntallocInstances} instance(s)");
            GntallocGrants = 0;
            GntallocLimit = _sim.Options.GntallocLimit;
        }
    }

    /// <summary>Grant references this domain currently grants.</summary>
    public int GrantedRefs { get { using (_sim.Gate.Enter()) return Grants.Granted; } }

    /// <summary>Mappings this domain holds of other domains' grants.</summary>
    public int ForeignMappings { get { using (_sim.Gate.Enter()) return _foreign.Count; } }

    /// <summary>Allocates <paramref name="count"/> contiguous frames (a framebuffer) and returns the first.</summary>
    public uint AllocatePages(int count)
    {
        using (_sim.Gate.Enter())
        {
            if (count == 1 && _freeFrames.Count > 0) return _freeFrames.Pop();
            if (count <= 0 || _nextFrame + (uint)count > (uint)Memory.Pages)
                throw new GntdevException("alloc_pages", Errno.ENOMEM, $"{Id} has no {count} free contiguous pages");
            uint first = _nextFrame;
            _nextFrame += (uint)count;
            return first;
        }
    }

    /// <summary>Returns frames to the allocator (single frames are reused first).</summary>
    internal void FreePages(uint first, int count)
    {
        if (first + (uint)count == _nextFrame) { _nextFrame = first; return; }
        for (uint f = first; f < first + (uint)count; f++) _freeFrames.Push(f);
    }

    /// <summary>The bytes of one of this domain's frames.</summary>
    public Span<byte> Page(uint frame) => Memory.Page(frame);

    /// <summary>gnttab_grant_foreign_access: grants <paramref name="frame"/> to <paramref name="grantee"/>.</summary>
    public uint GrantAccess(DomainId grantee, uint frame, bool readOnly = false)
    {
        grantee.EnsureReal("gnttab_grant_foreign_access");
        using (_sim.Gate.Enter())
        {
            EnsureAlive("gnttab_grant_foreign_access");
            if (frame >= (uint)Memory.Pages) throw new GntdevException("gnttab_grant_foreign_access", Errno.EINVAL, $"frame {frame} outside {Id}'s memory");
            return Grants.Grant(grantee, frame, readOnly);
        }
    }

    /// <summary>Grants <paramref name="count"/> frames starting at <paramref name="firstFrame"/>, one ref each, in page order.</summary>
    public uint[] GrantPages(DomainId grantee, uint firstFrame, int count, bool readOnly = false)
    {
        var refs = new uint[count];
        using (_sim.Gate.Enter())
        {
            if (Grants.FreeCount < count) throw new GntdevException("gnttab_alloc_grant_references", Errno.ENOSPC, $"{Id} has {Grants.FreeCount} free refs, {count} needed");
            for (int i = 0; i < count; i++) refs[i] = GrantAccess(grantee, firstFrame + (uint)i, readOnly);
        }
        return refs;
    }

    /// <summary>
    /// gnttab_end_foreign_access_ref: revokes a grant. False (and the grant stays) while the grantee maps it;
    /// a correct frontend must not reuse the page then.
    /// </summary>
    public bool EndAccess(uint gref)
    {
        using (_sim.Gate.Enter())
        {
            if (!Grants.IsGranted(gref)) throw new GntdevException("gnttab_end_foreign_access_ref", Errno.EINVAL, $"ref {gref} of {Id} is not granted");
            return Grants.TryEndAccess(gref);
        }
    }

    /// <summary>True while <paramref name="gref"/> grants access (not yet ended).</summary>
    public bool IsGranted(uint gref) { using (_sim.Gate.Enter()) return Grants.IsGranted(gref); }

    /// <summary>True while the grantee maps <paramref name="gref"/> (GTF_reading/GTF_writing set).</summary>
    public bool IsInUse(uint gref) { using (_sim.Gate.Enter()) return Grants.IsInUse(gref); }

    /// <summary>Maps another domain's grant into this domain (what a frontend does with refs it was given). Returns a handle.</summary>
    public int MapForeign(DomainId granter, uint gref, bool readOnly = false)
    {
        using (_sim.Gate.Enter())
        {
            EnsureAlive("GNTTABOP_map_grant_ref");
            var status = _sim.MapGrant(granter, gref, Id, readOnly, out _);
            if (status != GrantStatus.Okay)
                throw new GntdevException("GNTTABOP_map_grant_ref", Errno.EINVAL, $"{Id} cannot map ref {gref} of {granter}", status);
            int handle = _nextHandle++;
            _foreign[handle] = new ForeignMap(granter, gref, readOnly);
            return handle;
        }
    }

    /// <summary>Unmaps a mapping made by <see cref="MapForeign"/>.</summary>
    public void UnmapForeign(int handle)
    {
        using (_sim.Gate.Enter())
        {
            if (!_foreign.Remove(handle, out var m)) throw new GntdevException("GNTTABOP_unmap_grant_ref", Errno.EINVAL, $"no mapping {handle} in {Id}", GrantStatus.BadHandle);
            _sim.UnmapGrant(m.Granter, m.Ref, m.ReadOnly);
        }
    }

    /// <summary>Unmaps every foreign mapping (what the hypervisor does when the domain dies).</summary>
    internal void UnmapAllForeign()
    {
        foreach (var m in _foreign.Values) _sim.UnmapGrant(m.Granter, m.Ref, m.ReadOnly);
        _foreign.Clear();
    }

    internal void MarkDead() => IsAlive = false;

    private void EnsureAlive(string op)
    {
        if (!IsAlive) throw new GntdevException(op, Errno.EINVAL, $"{Id} is dead", GrantStatus.BadDomain);
    }

    private readonly record struct ForeignMap(DomainId Granter, uint Ref, bool ReadOnly);
}
