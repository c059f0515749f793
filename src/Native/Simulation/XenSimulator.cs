namespace BufferActors.Native.Simulation;

/// <summary>
/// An in-process, deterministic simulation of the Xen hypervisor's grant tables and memory
/// reservation plus the Linux gntdev driver and dma-buf core, faithful to the behaviour the
/// lifecycle actors rely on (see docs/simulator.md). One lock (<see cref="Gate"/>) serialises every
/// operation, so a run is a sequence of steps whose only inputs are the calls and the fault plan.
/// </summary>
public sealed class XenSimulator : IDisposable
{
    private readonly Dictionary<DomainId, SimulatedDomain> _domains = [];
    private readonly HashSet<SimulatedProcess> _processes = [];
    private readonly HashSet<SimulatedGrantDevice> _instances = [];
    private readonly HashSet<DmaBuf> _dmaBufs = [];
    private readonly List<Deferred> _deferred = [];
    private readonly List<string> _violations = [];
    private readonly List<string> _reports = [];
    private int _nextPid = 1000;
    private long _nextBufferId = 1;
    private int _openFds;
    private int _attachments;
    private int _gntdevPageLimit;

    /// <summary>Creates a simulator with dom0 as the backend domain.</summary>
    public XenSimulator(SimulatorOptions? options = null, FaultPlan? faults = null)
    {
        Options = options ?? new SimulatorOptions();
        _gntdevPageLimit = Options.PageLimit;
        Faults = faults ?? new FaultPlan(Options.Seed);
        Backend = AddDomain(DomainId.Dom0, Options.BackendDomainPages);
    }

    /// <summary>The settings.</summary>
    public SimulatorOptions Options { get; }

    /// <summary>The fault plan consulted at every <see cref="FaultSite"/>; replace it between phases of a test.</summary>
    public FaultPlan Faults { get; set; }

    /// <summary>gntdev's page limit (the module's writable <c>limit</c> parameter), from <see cref="SimulatorOptions.PageLimit"/>.</summary>
    public int GntdevPageLimit
    {
        get { using (Gate.Enter()) return _gntdevPageLimit; }
        set
        {
            ArgumentOutOfRangeException.ThrowIfNegativeOrZero(value);
            using (Gate.Enter()) _gntdevPageLimit = value;
        }
    }

    /// <summary>The lock every simulated operation holds.</summary>
    public SimulatorGate Gate { get; } = new();

    /// <summary>Callers blocked in WAIT_RELEASED on any gntdev instance of this simulator.</summary>
    public int BlockedWaiters { get { using (Gate.Enter()) return _instances.Sum(i => i.BlockedWaiters); } }

    /// <summary>
    /// Completes once <paramref name="condition"/> holds for the ledger, checked now and after every operation (a
    /// completion signal for tests and drivers, never a poll); <see cref="TimeoutException"/> after <paramref name="timeout"/>.
    /// </summary>
    public Task WhenLedger(Func<SimulatorLedger, bool> condition, TimeSpan timeout)
    {
        ArgumentNullException.ThrowIfNull(condition);
        return Gate.When(() => condition(Ledger()), timeout);
    }

    /// <summary>The backend domain (dom0) where gntdev runs and devices allocate.</summary>
    public SimulatedDomain Backend { get; }

    /// <summary>Simulated time: deferred end-access retries happen on <see cref="Tick"/>.</summary>
    public long Ticks { get; private set; }

    /// <summary>Invariant violations observed (a correct run has none).</summary>
    public IReadOnlyList<string> Violations { get { using (Gate.Enter()) return [.. _violations]; } }

    /// <summary>Kernel-style reports (deferred refs still in use / leaking), as state rather than log spam.</summary>
    public IReadOnlyList<string> Reports { get { using (Gate.Enter()) return [.. _reports]; } }

    /// <summary>Creates a frontend domain. Reserved ids (≥ 0x7FF0) and ids in use are refused with EINVAL.</summary>
    public SimulatedDomain CreateDomain(ushort id, int? pages = null)
    {
        var domid = new DomainId(id).EnsureReal("createdomain");
        using (Gate.Enter())
        {
            if (_domains.ContainsKey(domid)) throw new GntdevException("createdomain", Errno.EINVAL, $"{domid} exists");
            return AddDomain(domid, pages ?? Options.DefaultDomainPages);
        }
    }

    /// <summary>The domain <paramref name="id"/>; EINVAL if unknown.</summary>
    public SimulatedDomain Domain(DomainId id)
    {
        using (Gate.Enter())
            return _domains.TryGetValue(id, out var d) ? d : throw new GntdevException("domain lookup", Errno.EINVAL, $"no domain {id}");
    }

    /// <summary>
    /// Destroys (or crashes) a domain: the hypervisor drops every mapping it held of other domains'
    /// grants; its own grants stay until their mappers unmap; new maps of its refs fail with bad_domain.
    /// </summary>
    public void DestroyDomain(DomainId id)
    {
        using (Gate.Enter()) Kill(id);
    }

    /// <summary>Makes <paramref name="remote"/> unmap every foreign mapping it holds (a frontend that finally lets go).</summary>
    public void UnmapAllForeign(DomainId remote)
    {
        using (Gate.Enter()) Domain(remote).UnmapAllForeign();
    }

    /// <summary>Starts a process in the backend domain.</summary>
    public SimulatedProcess StartProcess(string name)
    {
        using (Gate.Enter())
        {
            var p = new SimulatedProcess(this, _nextPid++, name);
            _processes.Add(p);
            return p;
        }
    }

    /// <summary>Opens /dev/xen/gntdev in <paramref name="process"/> (a new process when null).</summary>
    public SimulatedGrantDevice OpenGrantDevice(SimulatedProcess? process = null)
    {
        using (Gate.Enter())
        {
            process ??= StartProcess("gntdev-user");
            if (Faults.Hit(FaultSite.OpenDevice, Kill) is { } fault)
                throw new GntdevException("open", fault.Errno, "injected fault opening /dev/xen/gntdev");
            var device = new SimulatedGrantDevice(this, process, Options.PteModificationMode);
            _instances.Add(device);
            return device;
        }
    }

    /// <summary>
    /// Opens /dev/xen/gntalloc in the kernel of <paramref name="granter"/> (dom0 when null): the grant
    /// allocator a Linux frontend shares its pages with, or the backend grants pages to itself with.
    /// </summary>
    public SimulatedGrantAllocator OpenGrantAllocator(SimulatedDomain? granter = null)
    {
        using (Gate.Enter()) return new SimulatedGrantAllocator(this, granter ?? Backend);
    }

    /// <summary>Adds a device driver (display, camera, GPU) that attaches to and allocates dma-bufs.</summary>
    public SimulatedDevice AddDevice(string name) => new(this, name);

    /// <summary>One timer period: retries every deferred end-access (the kernel's deferred list timer).</summary>
    public void Tick()
    {
        using (Gate.Enter())
        {
            Ticks++;
            // Like gnttab_handle_deferred: at most DeferredPerTick entries a period, failures requeued at the tail.
            int budget = Options.DeferredPerTick <= 0 ? _deferred.Count : Math.Min(Options.DeferredPerTick, _deferred.Count);
            for (int n = 0; n < budget; n++)
            {
                var d = _deferred[0];
                _deferred.RemoveAt(0);
                if (d.Granter.Grants.TryEndAccess(d.Ref))
                {
                    d.Ended();
                    continue;
                }
                _deferred.Add(d);
                if (++d.Attempts == Options.DeferredReportAfter)
                    _reports.Add($"tick {Ticks}: {d.Granter.Id} ref {d.Ref} still pending: mapped by {d.Grantee} after {d.Attempts} retries");
            }
        }
    }

    /// <summary>The end-access operations currently parked.</summary>
    public IReadOnlyList<DeferredEndAccess> DeferredEndAccesses()
    {
        using (Gate.Enter())
            return _deferred.Select(d => new DeferredEndAccess(d.Granter.Id, d.Ref, d.Grantee, d.Attempts, Ticks - d.SinceTick,
                d.Attempts >= Options.DeferredReportAfter)).ToList();
    }

    /// <summary>Counts everything held; compare two with <see cref="SimulatorLedger.DifferencesFrom"/>.</summary>
    public SimulatorLedger Ledger()
    {
        using (Gate.Enter())
        {
            var reservation = _domains.Values.Where(d => d.Reservation != d.BaselineReservation)
                .OrderBy(d => d.Id.Value).Select(d => $"{d.Id}:{d.Reservation - d.BaselineReservation:+#;-#}").ToList();
            return new SimulatorLedger(
                Maps: _instances.Sum(i => i.LiveMapCount),
                MappedGrants: _domains.Values.Sum(d => d.Grants.InUse),
                GrantedRefs: _domains.Values.Sum(d => d.Grants.Granted),
                DmaBufs: _dmaBufs.Count,
                Attachments: _attachments,
                OpenFds: _openFds,
                Exports: _instances.Sum(i => i.LiveExportCount),
                Imports: _instances.Sum(i => i.LiveImportCount),
                ReservationPages: _domains.Values.Sum(d => d.Reservation - d.BaselineReservation),
                DeferredRefs: _deferred.Count,
                OldestDeferredTicks: _deferred.Count == 0 ? 0 : Ticks - _deferred.Min(d => d.SinceTick),
                ReservationByDomain: string.Join(",", reservation));
        }
    }

    /// <summary>Frees every domain's memory.</summary>
    public void Dispose()
    {
        _shares?.Dispose();
        using (Gate.Enter())
        {
            foreach (var d in _domains.Values) d.Memory.Dispose();
        }
    }

    private SharedDmaBufs? _shares;

    /// <summary>The buffers handed to real processes as real descriptors (made on first use; caller holds the gate).</summary>
    internal SharedDmaBufs Shares => _shares ??= new SharedDmaBufs(this);

    /// <summary>Descriptors of simulated dma-bufs handed to real processes and still open somewhere.</summary>
    public int SharedDescriptors { get { using (Gate.Enter()) return _shares?.Count ?? 0; } }

    // ---- hypervisor and kernel internals used by the simulated objects (caller holds Gate) ----

    internal void Kill(DomainId id)
    {
        var domain = Domain(id);
        if (!domain.IsAlive) return;
        domain.MarkDead();
        domain.UnmapAllForeign();
    }

    internal GrantStatus MapGrant(DomainId granter, uint gref, DomainId mapper, bool readOnly, out uint frame)
    {
        frame = 0;
        if (granter.IsReserved || !_domains.TryGetValue(granter, out var g) || !g.IsAlive) return GrantStatus.BadDomain;
        return g.Grants.Map(gref, mapper, readOnly, out frame);
    }

    internal void UnmapGrant(DomainId granter, uint gref, bool readOnly) => _domains[granter].Grants.Unmap(gref, readOnly);

    internal DmaBuf CreateDmaBuf(SimulatedDomain owner, uint[] frames, long size, int firstOffset, DeviceMemoryKind kind,
        bool isGntdevExport, IDmaBufExporter exporter, object? exporterState = null)
    {
        var buffer = new DmaBuf(this, _nextBufferId++, owner, frames, size, firstOffset, kind, isGntdevExport, exporter, exporterState);
        _dmaBufs.Add(buffer);
        return buffer;
    }

    internal void DmaBufReleased(DmaBuf buffer) => _dmaBufs.Remove(buffer);

    internal void FreeDevicePages(DmaBuf buffer, uint first)
    {
        // Invariant: a page is never freed while a grant of it is still live.
        var frames = buffer.Frames.ToHashSet();
        var table = buffer.PageOwner.Grants;
        for (uint r = GrantTable.ReservedEntries; r < table.HighWater; r++)
        {
            if (table.IsGranted(r) && frames.Contains(table.FrameOf(r)))
                Violation($"page {table.FrameOf(r)} of dma-buf {buffer.Id} freed while ref {r} still grants it");
        }
        buffer.PageOwner.FreePages(first, buffer.PageCount);
    }

    internal void DeferEndAccess(SimulatedDomain granter, uint gref, DmaBuf pin)
    {
        pin.Get();
        _deferred.Add(new Deferred(granter, gref, granter.Grants.GranteeOf(gref), pin.Put, Ticks));
    }

    /// <summary>Parks an end-access that cannot complete yet; <paramref name="ended"/> runs once it does (frees the page).</summary>
    internal void DeferEndAccess(SimulatedDomain granter, uint gref, Action ended) =>
        _deferred.Add(new Deferred(granter, gref, granter.Grants.GranteeOf(gref), ended, Ticks));

    internal void RemoteReceivedGrants(DomainId remote, DomainId granter, uint[] refs)
    {
        if (!Faults.KeepsRemoteMapping(remote) || !_domains.TryGetValue(remote, out var d) || !d.IsAlive) return;
        foreach (var r in refs) d.MapForeign(granter, r);
    }

    internal void Violation(string what) => _violations.Add(what);
    internal void FdCountChanged(int delta) => _openFds += delta;
    internal void AttachmentCountChanged(int delta) => _attachments += delta;
    internal void InstanceReleased(SimulatedGrantDevice device) => _instances.Remove(device);

    internal void ProcessExited(SimulatedProcess process)
    {
        _processes.Remove(process);
    }

    private SimulatedDomain AddDomain(DomainId id, int pages)
    {
        var d = new SimulatedDomain(this, id, pages, Options.GrantTableEntries);
        _domains.Add(id, d);
        return d;
    }

    private sealed class Deferred(SimulatedDomain granter, uint gref, DomainId grantee, Action ended, long since)
    {
        public SimulatedDomain Granter { get; } = granter;
        public uint Ref { get; } = gref;
        public DomainId Grantee { get; } = grantee;
        /// <summary>What holding the page meant (a dma-buf pin, a gntalloc page): released once the access ended.</summary>
        public Action Ended { get; } = ended;
        public long SinceTick { get; } = since;
        public int Attempts { get; set; }
    }
}
