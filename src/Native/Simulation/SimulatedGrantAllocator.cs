namespace BufferActors.Native.Simulation;

/// <summary>
/// One open <c>/dev/xen/gntalloc</c> of a simulated domain's kernel, following
/// <c>drivers/xen/gntalloc.c</c>: zeroed pages allocated one by one and granted to the grantee; the
/// grants of all instances of the domain count against one limit (<see cref="SimulatedDomain.GntallocLimit"/>);
/// a deallocated grant the grantee still maps is ended later from the grant table's deferred list,
/// and its page is freed only then; the unmap notification clears its byte when the grant is deleted.
/// <para>
/// The module's count of grants is modelled with its defect: an allocation that fails part-way (the grant
/// table full, a page not allocated) takes its pages off the count twice — once in add_grefs' undo and
/// once per page in __del_gref — so the count ends one below the truth. The count is a signed int compared
/// with the unsigned limit, so once it is negative every later allocation is ENOSPC until the module is
/// reloaded (<see cref="SimulatedDomain.ReloadGntalloc"/>). The real-kernel lane's grant-table-full case shows it.
/// </para>
/// </summary>
public sealed class SimulatedGrantAllocator : IGrantAllocator
{
    private readonly XenSimulator _sim;
    private readonly SimulatedDomain _granter;
    private readonly Dictionary<ulong, Allocation> _live = [];
    private ulong _nextIndex;
    private bool _closed;

    internal SimulatedGrantAllocator(XenSimulator sim, SimulatedDomain granter)
    {
        _sim = sim;
        _granter = granter;
        granter.GntallocInstances++;
    }

    /// <summary>The domain whose kernel this instance belongs to (the granter).</summary>
    public DomainId Domain => _granter.Id;

    /// <inheritdoc />
    public int Limit { get { using (_sim.Gate.Enter()) return _granter.GntallocLimit; } }

    /// <summary>Live allocations of this instance.</summary>
    public int AllocationCount { get { using (_sim.Gate.Enter()) return _live.Count; } }

    /// <inheritdoc />
    public GrantAllocation Allocate(DomainId grantee, int count, bool writable = true)
    {
        const string op = "GNTALLOC_ALLOC_GREF";
        using (_sim.Gate.Enter())
        {
            EnsureOpen(op);
            if (count <= 0) throw new GntdevException(op, Errno.EINVAL, $"page count {count} is below 1");
            grantee.EnsureReal(op);
            uint limit = (uint)_granter.GntallocLimit;
            // gntalloc_ioctl_alloc's checks, in its types: gref_size (int) against limit_snapshot (unsigned int).
            if ((uint)count > limit || (uint)_granter.GntallocGrants > limit || (uint)count > limit - (uint)_granter.GntallocGrants)
                throw new GntdevException(op, Errno.ENOSPC, $"{count} grant(s) asked, {_granter.GntallocGrants} of gntalloc's limit {limit} in use");

            var frames = new uint[count];
            var refs = new uint[count];
            int granted = 0;
            try
            {
                for (; granted < count; granted++)
                {
                    frames[granted] = _granter.AllocatePages(1);
                    _granter.Page(frames[granted]).Clear(); // alloc_page(__GFP_ZERO)
                    refs[granted] = _granter.Grants.Grant(grantee, frames[granted], readOnly: !writable);
                }
            }
            catch (GntdevException e)
            {
                // add_grefs' undo: the grants made so far are ended (none is mapped yet) and their pages freed.
                bool pageAllocated = e.Operation != "alloc_pages";
                for (int i = 0; i < granted; i++)
                {
                    _granter.Grants.TryEndAccess(refs[i]);
                    _granter.FreePages(frames[i], 1);
                }
                if (pageAllocated && granted < count) _granter.FreePages(frames[granted], 1);
                _granter.GntallocGrants--; // the kernel's double count (see the class remarks)
                throw new GntdevException(op, e.Errno, $"granting page {granted} of {count} failed: {e.Detail}");
            }

            var allocation = new Allocation(_nextIndex, grantee, refs, frames, writable);
            _nextIndex += (ulong)count * PageView.PageSize;
            _live.Add(allocation.Index, allocation);
            _granter.GntallocGrants += count;
            return new GrantAllocation(allocation.Index, grantee, refs, writable, new FramePageView(_granter.Memory, frames));
        }
    }

    /// <inheritdoc />
    public void Deallocate(GrantAllocation allocation)
    {
        ArgumentNullException.ThrowIfNull(allocation);
        const string op = "GNTALLOC_DEALLOC_GREF";
        using (_sim.Gate.Enter())
        {
            EnsureOpen(op);
            if (!_live.Remove(allocation.Index, out var live) || live.Refs.Length != allocation.PageCount)
                throw new GntdevException(op, Errno.EINVAL, $"no live allocation of {allocation.PageCount} page(s) at offset 0x{allocation.Index:X}");
            Delete(live);
        }
    }

    /// <inheritdoc />
    public void SetUnmapNotify(GrantAllocation allocation, int byteOffset, UnmapNotifyActions action, uint eventChannelPort = 0)
    {
        ArgumentNullException.ThrowIfNull(allocation);
        const string op = "GNTALLOC_SET_UNMAP_NOTIFY";
        using (_sim.Gate.Enter())
        {
            EnsureOpen(op);
            ulong index = allocation.Index + (ulong)byteOffset;
            ulong pageIndex = index & ~(ulong)(PageView.PageSize - 1);
            var live = _live.Values.FirstOrDefault(a => pageIndex >= a.Index && pageIndex < a.Index + (ulong)a.Refs.Length * PageView.PageSize)
                ?? throw new GntdevException(op, Errno.ENOENT, $"no live page at offset 0x{pageIndex:X}");
            if ((action & ~(UnmapNotifyActions.ClearByte | UnmapNotifyActions.SendEvent)) != 0)
                throw new GntdevException(op, Errno.EINVAL, $"unknown unmap-notify action 0x{(uint)action:X}");
            if (action.HasFlag(UnmapNotifyActions.SendEvent))
                throw new GntdevException(op, Errno.EINVAL, $"event channel {eventChannelPort} is not bound (the simulator has no event channels)");
            int page = (int)((pageIndex - live.Index) / PageView.PageSize);
            live.NotifyPage = action == UnmapNotifyActions.None ? -1 : page;
            live.NotifyOffset = (int)(index & (PageView.PageSize - 1));
        }
    }

    /// <summary>Closes the instance (gntalloc_release): every live allocation is deallocated.</summary>
    public void Dispose()
    {
        using (_sim.Gate.Enter())
        {
            if (_closed) return;
            _closed = true;
            _granter.GntallocInstances--;
            foreach (var live in _live.Values.ToList()) Delete(live);
            _live.Clear();
        }
    }

    /// <summary>__del_gref for every page: notify, end access (deferred while mapped), free the page.</summary>
    private void Delete(Allocation live)
    {
        for (int i = 0; i < live.Refs.Length; i++)
        {
            uint frame = live.Frames[i];
            if (live.NotifyPage == i) _granter.Page(frame)[live.NotifyOffset] = 0;
            if (_granter.Grants.TryEndAccess(live.Refs[i])) _granter.FreePages(frame, 1);
            else _sim.DeferEndAccess(_granter, live.Refs[i], () => _granter.FreePages(frame, 1));
        }
        _granter.GntallocGrants -= live.Refs.Length;
    }

    private void EnsureOpen(string op)
    {
        if (_closed) throw new GntdevException(op, Errno.EBADF, "the grant allocator is closed");
    }

    private sealed class Allocation(ulong index, DomainId grantee, uint[] refs, uint[] frames, bool writable)
    {
        public ulong Index { get; } = index;
        public DomainId Grantee { get; } = grantee;
        public uint[] Refs { get; } = refs;
        public uint[] Frames { get; } = frames;
        public bool Writable { get; } = writable;
        public int NotifyPage { get; set; } = -1;
        public int NotifyOffset { get; set; }
    }
}
