namespace BufferActors.Native.Simulation;

/// <summary>
/// One open gntdev instance of the simulated kernel, owned by a <see cref="SimulatedProcess"/>.
/// Follows <c>drivers/xen/gntdev.c</c> and <c>gntdev-dmabuf.c</c>: exports and imports are listed
/// per instance and keyed by fd number; every export holds a reference on the instance's file, so the
/// file (and with it the release of imports and maps) only goes when its fd is closed and the last
/// export is released.
/// </summary>
public sealed class SimulatedGrantDevice : IGrantDevice, IDmaBufExporter
{
    private readonly XenSimulator _sim;
    // Live exports by the fd number they were created under: the newest, which links to older ones under
    // the same number. The kernel's list is newest first and WAIT_RELEASED takes the first match, so a
    // reused number finds the latest export; indexed so that a lookup does not scan every live export.
    private readonly Dictionary<int, Export> _exports = [];
    private int _exportCount;
    private readonly List<Import> _imports = [];
    private readonly Dictionary<ulong, GrantMap> _maps = [];
    private readonly bool _pteMode;
    private ulong _nextIndex;
    private int _fdRefs = 1;
    // Callers blocked in WaitReleased, newest first (the kernel's exp_wait_list).
    private readonly List<Waiter> _waiters = [];

    internal SimulatedGrantDevice(XenSimulator sim, SimulatedProcess process, bool pteMode)
    {
        _sim = sim;
        _pteMode = pteMode;
        Process = process;
        Fd = process.Install(this);
    }

    /// <summary>The owning process.</summary>
    public SimulatedProcess Process { get; }

    /// <summary>The instance's own descriptor in <see cref="Process"/>.</summary>
    public int Fd { get; }

    /// <summary>The backend domain this instance runs in.</summary>
    public DomainId Domain => _sim.Backend.Id;

    /// <inheritdoc />
    public int PageLimit => _sim.GntdevPageLimit;

    /// <summary>True once the descriptor was closed.</summary>
    public bool IsClosed { get; private set; }

    /// <summary>True once the file itself was released (descriptor closed and no export left).</summary>
    public bool IsReleased { get; private set; }

    /// <summary>Live exports of this instance.</summary>
    public int ExportCount { get { using (_sim.Gate.Enter()) return _exportCount; } }

    /// <summary>Live imports of this instance.</summary>
    public int ImportCount { get { using (_sim.Gate.Enter()) return _imports.Count; } }

    /// <summary>Callers currently blocked in <see cref="WaitReleased"/> (lets tests wait for a waiter without sleeping).</summary>
    public int BlockedWaiters { get { using (_sim.Gate.Enter()) return _waiters.Count; } }

    /// <summary>Live MAP_GRANT_REF maps of this instance.</summary>
    public int MapCount { get { using (_sim.Gate.Enter()) return _maps.Count; } }

    /// <inheritdoc />
    public GrantMapping MapGrantRefs(DomainId domain, ReadOnlySpan<uint> refs, bool readOnly = false)
    {
        var refArray = refs.ToArray();
        using (_sim.Gate.Enter())
        {
            ulong index = AddMap(domain, refArray, readOnly, forPeer: false, out var map);
            var pages = new FramePageView(_sim.Domain(domain).Memory, map.Frames, readOnly);
            return new GrantMapping(index, domain, refArray, readOnly, pages);
        }
    }

    /// <inheritdoc />
    public void UnmapGrantRefs(GrantMapping mapping)
    {
        using (_sim.Gate.Enter()) RemoveMap(mapping.Index, map => map.PeerCopy is null, "map");
    }

    /// <inheritdoc />
    /// <remarks>
    /// The file is a memfd holding a copy of the pages as they are at the map; a writable map's copy is written back
    /// to the granter's pages at the unmap, a read-only map's is sealed against writes (so it cannot be mmapped
    /// writable). The kernel's file aliases the granted pages themselves: writes on either side during the map are
    /// seen at once there, and its one mmap's protection decides read-only (docs/simulator.md, deliberate differences).
    /// </remarks>
    public PeerGrantMapping MapGrantRefsForPeer(DomainId domain, ReadOnlySpan<uint> refs, bool readOnly = false)
    {
        var refArray = refs.ToArray();
        using (_sim.Gate.Enter())
        {
            ulong index = AddMap(domain, refArray, readOnly, forPeer: true, out var map);
            return new PeerGrantMapping(index, domain, refArray, readOnly, map.PeerCopy!, 0);
        }
    }

    /// <inheritdoc />
    public void UnmapPeerGrantRefs(PeerGrantMapping mapping)
    {
        ArgumentNullException.ThrowIfNull(mapping);
        using (_sim.Gate.Enter()) RemoveMap(mapping.Index, map => ReferenceEquals(map.PeerCopy, mapping.File), "map for another process");
    }

    /// <summary>
    /// MAP_GRANT_REF under the gate: refused as the kernel refuses, every page that mapped unmapped again on any
    /// failure; a map <paramref name="forPeer"/> gets the file of its copy. Returns the map's offset.
    /// </summary>
    private ulong AddMap(DomainId domain, uint[] refs, bool readOnly, bool forPeer, out GrantMap map)
    {
        const string op = "MAP_GRANT_REF";
        EnsureOpen(op);
        Inject(FaultSite.MapGrantRefs, op);
        CheckCount(op, refs.Length);
        domain.EnsureReal(op);
        map = new GrantMap(_sim, domain, Domain, refs, readOnly);
        FailIfPartial(op, map, map.MapAll());
        if (forPeer)
        {
            try
            {
                map.PeerCopy = map.CopyForPeer();
            }
            catch (NativeCallException e)
            {
                map.UnmapAll();
                throw new GntdevException(op, e.Errno, $"cannot make the file of a map for another process: {e.Detail}");
            }
        }
        ulong index = _nextIndex;
        _nextIndex += (ulong)refs.Length * PageView.PageSize;
        _maps.Add(index, map);
        return index;
    }

    /// <summary>UNMAP_GRANT_REF under the gate of the map at <paramref name="index"/>, if it is the one <paramref name="isIt"/> expects; else ENOENT.</summary>
    private void RemoveMap(ulong index, Func<GrantMap, bool> isIt, string what)
    {
        const string op = "UNMAP_GRANT_REF";
        EnsureOpen(op);
        if (!_maps.TryGetValue(index, out var map) || !isIt(map))
            throw new GntdevException(op, Errno.ENOENT, $"no {what} at index {index}");
        Inject(FaultSite.UnmapGrantRefs, op);
        map.UnmapAll();
        _maps.Remove(index);
    }

    /// <summary>
    /// SET_UNMAP_NOTIFY: when the map holding byte <paramref name="index"/> (an mmap offset of this
    /// instance) is unmapped, clear that byte in the granter's page. One notification per map; a new call
    /// replaces the previous one. ENOENT when no map holds the offset; EINVAL for an event channel (not modelled).
    /// </summary>
    public void SetUnmapNotify(ulong index, UnmapNotifyActions action, uint eventChannelPort = 0)
    {
        const string op = "SET_UNMAP_NOTIFY";
        using (_sim.Gate.Enter())
        {
            EnsureOpen(op);
            var (start, map) = _maps.FirstOrDefault(m => index >= m.Key && index < m.Key + (ulong)m.Value.Refs.Length * PageView.PageSize);
            if (map is null) throw new GntdevException(op, Errno.ENOENT, $"no map holds offset 0x{index:X}");
            if ((action & ~(UnmapNotifyActions.ClearByte | UnmapNotifyActions.SendEvent)) != 0)
                throw new GntdevException(op, Errno.EINVAL, $"unknown unmap-notify action 0x{(uint)action:X}");
            if (action.HasFlag(UnmapNotifyActions.SendEvent))
                throw new GntdevException(op, Errno.EINVAL, $"event channel {eventChannelPort} is not bound (the simulator has no event channels)");
            map.Notify = action == UnmapNotifyActions.None ? null : (int)(index - start);
        }
    }

    /// <inheritdoc />
    public ExportedDmaBuf ExportDmaBuf(DmaBufFlags flags, DomainId domain, ReadOnlySpan<uint> refs)
    {
        const string op = "DMABUF_EXP_FROM_REFS";
        var refArray = refs.ToArray();
        using (_sim.Gate.Enter())
        {
            EnsureOpen(op);
            Inject(FaultSite.ExportFromRefs, op);
            if (_pteMode)
                throw new GntdevException(op, Errno.EINVAL, "dma-buf export is refused in PTE-modification mapping mode (PV dom0)");
            CheckCount(op, refArray.Length);
            if (flags.HasFlag(DmaBufFlags.WriteCombine) && flags.HasFlag(DmaBufFlags.Coherent))
                throw new GntdevException(op, Errno.EINVAL, "GNTDEV_DMA_FLAG_WC and GNTDEV_DMA_FLAG_COHERENT are exclusive");
            domain.EnsureReal(op);

            // A DMA-able buffer hands its frames back to the hypervisor; foreign frames are mapped over them.
            bool dma = LowersReservation(flags);
            if (dma)
            {
                Inject(FaultSite.ReservationDecrease, op);
                // XENMEM_decrease_reservation cannot hand back frames the domain does not have.
                if (_sim.Backend.Reservation < refArray.Length)
                    throw new GntdevException(op, Errno.ENOMEM, $"the backend's reservation is {_sim.Backend.Reservation} pages; {refArray.Length} cannot be handed back");
                _sim.Backend.Reservation -= refArray.Length;
            }
            var map = new GrantMap(_sim, domain, Domain, refArray, readOnly: false);
            void Unwind()
            {
                map.UnmapAll();
                if (dma) _sim.Backend.Reservation += refArray.Length;
            }
            if (map.MapAll() is { } failure)
            {
                Unwind();
                throw MapFailure(op, failure);
            }
            if (_sim.Faults.Hit(FaultSite.DmaBufCreate, _sim.Kill) is { } fault)
            {
                Unwind();
                throw new GntdevException(op, fault.Errno, "injected fault creating the dma-buf");
            }

            var export = new Export(map, flags);
            var granter = _sim.Domain(domain);
            export.Buffer = _sim.CreateDmaBuf(granter, map.Frames, (long)refArray.Length * PageView.PageSize, 0,
                DeviceMemoryKind.System, isGntdevExport: true, exporter: this, exporterState: export);
            export.Buffer.Get();
            export.Fd = Process.Install(export.Buffer);
            // Newest first; the export holds the gntdev file: see ReleaseFileIfUnused.
            export.Older = _exports.GetValueOrDefault(export.Fd);
            _exports[export.Fd] = export;
            _exportCount++;
            return new ExportedDmaBuf(export.Fd, domain, refArray, flags);
        }
    }

    /// <inheritdoc />
    public WaitReleasedResult WaitReleased(int fd, uint timeoutMs)
    {
        const string op = "DMABUF_EXP_WAIT_RELEASED";
        using (_sim.Gate.Enter())
        {
            EnsureOpen(op);
            Inject(FaultSite.WaitReleased, op);
            // Looked up by fd number among this instance's exports only; the newest export under a reused
            // number is found first, as with the kernel's list_add at the head.
            if (!_exports.TryGetValue(fd, out var export)) return WaitReleasedResult.NotFound;
            // As dmabuf_exp_wait_obj_new: the wait object goes to the head of the instance's wait list, and a
            // release completes only the first object naming its buffer — the newest waiter. Older waiters
            // of the same buffer are never woken and time out.
            var waiter = new Waiter(export);
            _waiters.Insert(0, waiter);
            var deadline = Environment.TickCount64 + timeoutMs;
            try
            {
                while (!waiter.Completed)
                {
                    long remaining = deadline - Environment.TickCount64;
                    if (remaining <= 0) return WaitReleasedResult.TimedOut;
                    // Time-outs up to 0xFFFFFFFF ms are valid; Monitor.Wait takes at most int.MaxValue at a time.
                    _sim.Gate.Wait(TimeSpan.FromMilliseconds(Math.Min(remaining, int.MaxValue)));
                }
                return WaitReleasedResult.Released;
            }
            finally
            {
                _waiters.Remove(waiter);
            }
        }
    }

    /// <inheritdoc />
    public ImportedDmaBuf ImportDmaBuf(int fd, int count, DomainId domain)
    {
        const string op = "DMABUF_IMP_TO_REFS";
        using (_sim.Gate.Enter())
        {
            EnsureOpen(op);
            Inject(FaultSite.ImportToRefs, op);
            CheckCount(op, count);
            domain.EnsureReal(op);
            var buffer = Process.DmaBufOf(fd);
            Inject(FaultSite.ImportAttach, op);
            var import = new Import(fd, domain, buffer.Attach("gntdev import"), new uint[count]);
            try
            {
                Inject(FaultSite.ImportMapAttachment, op);
                import.Attachment.Map(DmaDirection.Bidirectional);
                CheckImportable(op, buffer, count);
                Inject(FaultSite.ImportAllocateRefs, op);
                var table = _sim.Backend.Grants;
                // A gntdev export of another domain's grants is made of foreign mappings: granted again, they
                // cannot be mapped (see GrantTable.Grant). An export of the backend's own grants is its own memory.
                bool foreignPages = buffer.PageOwner != _sim.Backend;
                if (table.FreeCount < count)
                    throw new GntdevException(op, Errno.ENOSPC, $"{count} grant references needed, {table.FreeCount} free");
                for (int i = 0; i < count; i++)
                {
                    if (_sim.Faults.Hit(FaultSite.ImportGrantPage, _sim.Kill) is { } fault)
                        throw new GntdevException(op, fault.Errno, $"injected fault granting page {i}", failedPage: i);
                    import.Refs[i] = table.Grant(domain, buffer.Frames[i], readOnly: false, foreignPages);
                    import.Granted++;
                }
            }
            catch (GntdevException)
            {
                // Unwind in reverse: end the grants made so far, unmap, detach, drop the buffer.
                EndImport(import);
                throw;
            }
            _imports.Insert(0, import); // newest first, keyed by the fd number the caller passed
            if (_sim.Faults.Hit(FaultSite.ImportCopyOut, _sim.Kill) is { } copyFault)
            {
                ReleaseImportCore(import);
                throw new GntdevException(op, copyFault.Errno, "copying refs to the caller failed; import released");
            }
            _sim.RemoteReceivedGrants(domain, Domain, import.Refs);
            return new ImportedDmaBuf(fd, domain, import.Refs);
        }
    }

    /// <inheritdoc />
    public void ReleaseImport(int fd)
    {
        const string op = "DMABUF_IMP_RELEASE";
        using (_sim.Gate.Enter())
        {
            EnsureOpen(op);
            var import = _imports.Find(i => i.Fd == fd)
                ?? throw new GntdevException(op, Errno.ENOENT, $"no import keyed by fd {fd}");
            Inject(FaultSite.ImportRelease, op);
            ReleaseImportCore(import);
        }
    }

    /// <inheritdoc />
    public IReadOnlyList<uint>? PendingEndAccess(ReadOnlySpan<uint> refs)
    {
        var asked = new HashSet<uint>(refs.ToArray());
        return [.. _sim.DeferredEndAccesses().Where(d => d.Granter == Domain && asked.Contains(d.Ref)).Select(d => d.Ref)];
    }

    /// <inheritdoc />
    public void CloseFd(int fd)
    {
        if (fd == Fd) throw new GntdevException("close", Errno.EINVAL, "close the grant device with Dispose, not CloseFd");
        Process.Close(fd);
    }

    /// <inheritdoc />
    public int DuplicateFd(int fd) => Process.Dup(fd);

    /// <inheritdoc />
    /// <remarks>
    /// A memfd of the buffer's size holding one reference on the buffer until its last close; it holds no copy of
    /// the pages (a real gntdev dma-buf cannot be mapped at all: a client reads a buffer through a grant map).
    /// </remarks>
    public Microsoft.Win32.SafeHandles.SafeFileHandle ShareDmaBuf(int fd)
    {
        using (_sim.Gate.Enter())
        {
            return _sim.Shares.ShareUnderGate(Process.DmaBufOf(fd));
        }
    }

    /// <inheritdoc />
    /// <remarks>Only descriptors this simulator shared (<see cref="ShareDmaBuf"/>) are dma-bufs to it.</remarks>
    public int AdoptDmaBuf(System.Runtime.InteropServices.SafeHandle descriptor)
    {
        ArgumentNullException.ThrowIfNull(descriptor);
        using (_sim.Gate.Enter())
        {
            var buffer = _sim.Shares.ResolveUnderGate(descriptor)
                ?? throw new GntdevException("dma_buf_get", Errno.EINVAL, "the descriptor is not a dma-buf of this simulator");
            buffer.Get();
            return Process.Install(buffer);
        }
    }

    /// <inheritdoc />
    public void ReplaceWithPlaceholder(int fd)
    {
        if (fd == Fd) throw new GntdevException("dup3", Errno.EINVAL, "the grant device's own descriptor cannot be replaced");
        Process.ReplaceWithPlaceholder(fd);
    }

    /// <summary>Closes the instance's descriptor (close(2) on /dev/xen/gntdev).</summary>
    public void Dispose()
    {
        using (_sim.Gate.Enter())
        {
            if (IsClosed || !Process.IsAlive) return;
            Process.Close(Fd);
        }
    }

    internal void GetFile() => _fdRefs++;

    internal void PutFile()
    {
        IsClosed = --_fdRefs == 0;
        ReleaseFileIfUnused();
    }

    private void ReleaseFileIfUnused()
    {
        if (_fdRefs > 0 || _exportCount > 0 || IsReleased) return;
        // gntdev_release: imports are released as by IMP_RELEASE, remaining maps are unmapped.
        foreach (var import in _imports.ToList()) ReleaseImportCore(import);
        TearDownMaps();
        IsReleased = true;
        _sim.InstanceReleased(this);
    }

    /// <summary>The owning process's address space is gone: every mmapped grant map is unmapped.</summary>
    internal void TearDownMaps()
    {
        foreach (var map in _maps.Values) map.UnmapAll();
        _maps.Clear();
    }

    internal int LiveMapCount => _maps.Count + _exportCount;
    internal int LiveImportCount => _imports.Count;
    internal int LiveExportCount => _exportCount;

    private void ReleaseImportCore(Import import)
    {
        _imports.Remove(import);
        EndImport(import);
    }

    private void EndImport(Import import)
    {
        for (int i = 0; i < import.Granted; i++)
        {
            // A ref the remote still maps cannot be ended now: park it, pinning the page, and retry later.
            if (!_sim.Backend.Grants.TryEndAccess(import.Refs[i]))
                _sim.DeferEndAccess(_sim.Backend, import.Refs[i], import.Attachment.Buffer);
        }
        import.Granted = 0;
        import.Attachment.Detach();
    }

    /// <summary>A DMA-able export (WC or coherent) lowers the backend's reservation; the kernel ignores any other bit.</summary>
    private static bool LowersReservation(DmaBufFlags flags) => (flags & (DmaBufFlags.WriteCombine | DmaBufFlags.Coherent)) != 0;

    /// <inheritdoc />
    void IDmaBufExporter.Released(DmaBuf buffer)
    {
        var export = (Export)buffer.ExporterState!;
        export.Map.UnmapAll();
        if (LowersReservation(export.Flags)) _sim.Backend.Reservation += export.Map.Refs.Length;
        Unlink(export);
        _exportCount--;
        if (_waiters.Find(w => w.Export == export) is { } newest)
        {
            newest.Completed = true;
            _sim.Gate.PulseAll();
        }
        ReleaseFileIfUnused();
    }

    private void Unlink(Export export)
    {
        var newest = _exports[export.Fd];
        if (newest == export)
        {
            if (export.Older is null) _exports.Remove(export.Fd);
            else _exports[export.Fd] = export.Older;
            return;
        }
        var newer = newest;
        while (newer.Older != export) newer = newer.Older!;
        newer.Older = export.Older;
    }

    private static void CheckImportable(string op, DmaBuf buffer, int count)
    {
        if (buffer.FirstOffset != 0)
            throw new GntdevException(op, Errno.EINVAL, $"first segment starts at offset {buffer.FirstOffset}, not 0");
        if (buffer.SizeBytes != (long)count * PageView.PageSize)
            throw new GntdevException(op, Errno.EINVAL, $"buffer is {buffer.SizeBytes} bytes, not {count} pages");
        // A gntdev export is importable: its pages are struct pages (the grant map's), as the kernel's
        // dmabuf_imp_to_refs needs; device memory has none.
        if (buffer.Kind != DeviceMemoryKind.System)
            throw new GntdevException(op, Errno.EINVAL, "buffer pages are not ordinary memory (device memory)");
    }

    private void CheckCount(string op, int count)
    {
        if (count <= 0 || count > PageLimit)
            throw new GntdevException(op, Errno.EINVAL, $"page count {count} outside 1..{PageLimit}");
    }

    private void EnsureOpen(string op)
    {
        if (IsClosed) throw new GntdevException(op, Errno.EBADF, $"grant device fd {Fd} is closed");
    }

    private void Inject(FaultSite site, string op)
    {
        if (_sim.Faults.Hit(site, _sim.Kill) is { } fault)
            throw new GntdevException(op, fault.Errno, $"injected fault at {site}");
    }

    private static void FailIfPartial(string op, GrantMap map, (int Page, GrantStatus Status)? failure)
    {
        if (failure is null) return;
        map.UnmapAll();
        throw MapFailure(op, failure.Value);
    }

    private static GntdevException MapFailure(string op, (int Page, GrantStatus Status) failure) =>
        new(op, Errno.EINVAL, "a grant failed to map; pages that mapped were unmapped", failure.Status, failure.Page);

    private sealed class Export(GrantMap map, DmaBufFlags flags)
    {
        public GrantMap Map { get; } = map;
        public DmaBufFlags Flags { get; } = flags;
        public DmaBuf Buffer { get; set; } = null!;
        public int Fd { get; set; }

        /// <summary>The next older live export created under the same fd number, if any.</summary>
        public Export? Older { get; set; }
    }

    private sealed class Waiter(Export export)
    {
        public Export Export { get; } = export;
        public bool Completed { get; set; }
    }

    private sealed class Import(int fd, DomainId grantee, DmaBufAttachment attachment, uint[] refs)
    {
        public int Fd { get; } = fd;
        public DomainId Grantee { get; } = grantee;
        public DmaBufAttachment Attachment { get; } = attachment;
        public uint[] Refs { get; } = refs;
        public int Granted { get; set; }
    }
}
