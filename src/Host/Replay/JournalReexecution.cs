using BufferActors.Actors;
using BufferActors.Actors.Persistence;
using BufferActors.Actors.Persistence.Replay;
using BufferActors.Native;
using BufferActors.Native.Simulation;

namespace BufferActors.Host.Replay;

/// <summary>
/// Re-executes a recorded journal's device operations against a fresh, seeded <see cref="XenSimulator"/>, in
/// sequence order, and reports where the re-run diverges from the record: the tool to reproduce an incident
/// deterministically from its journal (<c>replay --simulate</c>).
/// </summary>
/// <remarks>
/// <para><b>Setup.</b> Every domain that names a lifecycle is created. Each frontend grants its pages to dom0 in
/// order (refs start at 8) until the highest ref any export or map of it requested exists. A ref that appears
/// only in requests that were refused (<see cref="Failed"/> right after the request) is revoked again, so a
/// refusal caused by a bad ref re-runs as a refusal; a ref also used by a request that succeeded stays granted.</para>
/// <para><b>One backend.</b> Everything runs on one backend process with one gntdev instance, plus one simulated
/// device per recorded consumer (and <c>importer</c>, which allocates the buffers imports are made from). A run of
/// <see cref="Reclaimed"/> events is a host restart: the process exits (the kernel tears down what it held) and a
/// new process opens a new instance for what follows — unless the next object the journal creates carries the
/// same device instance id as before (only the actor system restarted; the process survived). A created object
/// whose device instance id changes without any reclaim is treated as a restart too (noted).</para>
/// <para><b>Operations.</b> Creation is executed at its outcome, with the request's arguments: <see cref="Exported"/>
/// → <c>ExportDmaBuf</c>, compared on fd and page count; <see cref="Granted"/> → a device buffer of the page count
/// + <c>ImportDmaBuf</c>, compared on the number of refs; <see cref="Mapped"/> → <c>MapGrantRefs</c>, compared on
/// the index; <see cref="Failed"/> right after a request → the request, expected to fail (with the recorded errno,
/// if any). <see cref="Attached"/> → <c>Attach</c> + <c>Map(direction)</c>; <see cref="Detached"/> → detach;
/// <see cref="ReleaseRequested"/> on an export → once no consumer is attached, <c>CloseFd</c> then
/// <c>WaitReleased(fd, 0)</c>, which <see cref="Released"/> expects to be <c>NotFound</c>;
/// <see cref="AccessDeferred"/> or else <see cref="AccessEnded"/> → <c>ReleaseImport</c> (and the importer's buffer is closed); <see cref="Unmapped"/> →
/// <c>UnmapGrantRefs</c>. Reservation and wait events are bookkeeping and are not re-executed.</para>
/// <para><b>Fds are compared.</b> The simulator is deterministic and allocates the lowest free fd, so the same
/// operations in the same order give the same numbers; a different fd is a divergence (the re-run's own fd is
/// used for the lifecycle's later operations, so one mismatch is reported once). Import ref numbers and the
/// importer buffer's fd are only <see cref="ReexecutionResult.Notes"/>: they come from dom0's grant table and the
/// backend's fd table, which other users of the backend domain share and the journal does not record.</para>
/// <para>A device error never escapes: it is the outcome that is compared. Once a lifecycle's creation cannot be
/// reproduced, its later operations are skipped (one divergence per cause).</para>
/// </remarks>
public static class JournalReexecution
{
    /// <summary>Re-executes <paramref name="entries"/> on a new simulator seeded with <paramref name="seed"/>.</summary>
    /// <param name="entries">The journal's events in strictly increasing sequence order.</param>
    /// <param name="seed">The simulator's seed (<see cref="SimulatorOptions.Seed"/>).</param>
    /// <exception cref="ArgumentException">The entries are out of order.</exception>
    public static ReexecutionResult Run(IReadOnlyList<JournalEntry> entries, int seed = 0)
    {
        ArgumentNullException.ThrowIfNull(entries);
        for (int i = 0; i < entries.Count; i++)
        {
            if (entries[i].Event is null) throw new ArgumentException($"entry at sequence {entries[i].SequenceNr} has no event", nameof(entries));
            if (i > 0 && entries[i].SequenceNr <= entries[i - 1].SequenceNr)
                throw new ArgumentException($"entries must be in increasing sequence order: {entries[i].SequenceNr} came after {entries[i - 1].SequenceNr}", nameof(entries));
        }
        using var sim = new XenSimulator(new SimulatorOptions { Seed = seed });
        return new Rerun(sim, entries, seed).Execute();
    }

    private sealed class Life(LifecycleId id)
    {
        public LifecycleId Id { get; } = id;
        public LifecycleEvent? Request { get; set; }
        public bool Created { get; set; }
        public bool Lost { get; set; }
        public bool Finished { get; set; }
        public SimulatedGrantDevice? Gntdev { get; set; }
        public int? RecordedFd { get; set; }
        public int? Fd { get; set; }
        public bool FdOpen { get; set; }
        public bool ReleaseRequested { get; set; }
        public WaitReleasedResult? Probe { get; set; }
        public int? ImportFd { get; set; }
        public bool OwnsImportBuffer { get; set; }
        public GrantMapping? Mapping { get; set; }
        public SortedDictionary<string, DmaBufAttachment> Attachments { get; } = new(StringComparer.Ordinal);
    }

    private sealed class Rerun(XenSimulator sim, IReadOnlyList<JournalEntry> entries, int seed)
    {
        private readonly Dictionary<LifecycleId, Life> _lives = [];
        private readonly List<Life> _order = [];
        private readonly SortedDictionary<string, SimulatedDevice> _devices = new(StringComparer.Ordinal);
        private readonly List<(SimulatedDomain Domain, List<uint> Refs)> _frontendGrants = [];
        private readonly List<Divergence> _divergences = [];
        private readonly List<Divergence> _notes = [];
        private SimulatedProcess _process = null!;
        private SimulatedGrantDevice _gntdev = null!;
        private Guid? _boundDevice;
        private int _operations;

        public ReexecutionResult Execute()
        {
            SetUpFrontends();
            _process = sim.StartProcess("backend");
            _gntdev = sim.OpenGrantDevice(_process);
            for (int i = 0; i < entries.Count; i++)
            {
                var entry = entries[i];
                var life = LifeOf(entry.Event.Id);
                try
                {
                    Step(i, entry, life);
                }
                catch (GntdevException e)
                {
                    Diverge(entry, "success", Failure(e));
                }
            }
            TearDown();
            return new ReexecutionResult(seed, _operations, _divergences, _notes, sim.Ledger(), sim.Violations);
        }

        private Life LifeOf(LifecycleId id)
        {
            if (!_lives.TryGetValue(id, out var life))
            {
                _lives.Add(id, life = new Life(id));
                _order.Add(life);
            }
            return life;
        }

        private void SetUpFrontends()
        {
            var domains = new SortedDictionary<ushort, (SortedSet<uint> All, HashSet<uint> Used, JournalEntry First)>();
            var requests = new Dictionary<LifecycleId, uint[]>();
            foreach (var entry in entries)
            {
                var e = entry.Event;
                ushort domain = e.Id.Domain.Value;
                if (!domains.TryGetValue(domain, out var refs)) domains.Add(domain, refs = ([], [], entry));
                switch (e)
                {
                    case ExportRequested r:
                        requests[e.Id] = r.Refs;
                        refs.All.UnionWith(r.Refs);
                        break;
                    case MapRequested m:
                        requests[e.Id] = m.Refs;
                        refs.All.UnionWith(m.Refs);
                        break;
                    case Exported or Mapped when requests.TryGetValue(e.Id, out var used):
                        refs.Used.UnionWith(used);
                        break;
                }
            }

            foreach (var (id, refs) in domains)
            {
                var domainId = new DomainId(id);
                if (domainId.IsReserved) continue; // every request naming it was refused; nothing to create
                var domain = id == DomainId.Dom0.Value ? sim.Backend : sim.CreateDomain(id);
                if (refs.All.Count == 0 || refs.All.Max < GrantTableReserved) continue;
                int count = (int)(refs.All.Max - GrantTableReserved + 1);
                try
                {
                    uint first = domain.AllocatePages(count);
                    var granted = domain.GrantPages(DomainId.Dom0, first, count).ToList();
                    foreach (uint r in refs.All.Where(r => !refs.Used.Contains(r)))
                    {
                        if (granted.Remove(r)) domain.EndAccess(r);
                    }
                    _frontendGrants.Add((domain, granted));
                }
                catch (GntdevException e)
                {
                    Note(refs.First, $"refs up to {refs.All.Max} granted by {domainId}", Failure(e));
                }
            }
        }

        private const uint GrantTableReserved = 8;

        private void Step(int index, JournalEntry entry, Life life)
        {
            var e = entry.Event;
            if (life.Finished && e is not (Detached or WaitRequested or WaitAnswered or ReservationDecreased or ReservationRestored))
            {
                Note(entry, "nothing after the lifecycle's terminal event", "not re-executed");
                return;
            }
            switch (e)
            {
                case ExportRequested or ImportRequested or MapRequested:
                    life.Request = e;
                    break;
                case Exported x:
                    OnExported(entry, life, x);
                    break;
                case Granted g:
                    OnGranted(entry, life, g);
                    break;
                case Mapped m:
                    OnMapped(entry, life, m);
                    break;
                case Failed f:
                    OnFailed(entry, life, f);
                    break;
                case Attached a:
                    OnAttached(entry, life, a);
                    break;
                case Detached d:
                    OnDetached(entry, life, d);
                    break;
                case ReleaseRequested when life.Id.Kind == LifecycleKind.Export && life.Created && !life.Lost:
                    life.ReleaseRequested = true;
                    if (life.Attachments.Count == 0) CloseAndProbe(entry, life);
                    break;
                case Released:
                    OnReleased(entry, life);
                    break;
                case AccessDeferred:
                    ReleaseImport(entry, life); // released then; the refs' later end is the frontend's, not a device call
                    break;
                case AccessEnded:
                    life.Finished = true;
                    ReleaseImport(entry, life);
                    break;
                case Unmapped:
                    OnUnmapped(entry, life);
                    break;
                case Reclaimed:
                    OnReclaimed(index, entry, life);
                    break;
                default:
                    // release-requested of an import or map (re-executed at access-ended / unmapped), reservation and
                    // wait events: bookkeeping.
                    break;
            }
        }

        private bool Creatable<T>(JournalEntry entry, Life life, out T request) where T : LifecycleEvent
        {
            if (life.Request is T r && !life.Created && !life.Lost)
            {
                request = r;
                return true;
            }
            request = null!;
            if (!life.Lost) Note(entry, $"a {typeof(T).Name} before it", "none: not re-executed");
            life.Lost = true;
            return false;
        }

        private void OnExported(JournalEntry entry, Life life, Exported x)
        {
            if (!Creatable<ExportRequested>(entry, life, out var r)) return;
            BindDevice(entry, x.Device);
            string expected = $"fd {x.Fd}, {x.PageCount} pages";
            _operations++;
            ExportedDmaBuf export;
            try
            {
                export = _gntdev.ExportDmaBuf(r.Flags, life.Id.Domain, r.Refs);
            }
            catch (GntdevException e)
            {
                Diverge(entry, expected, Failure(e));
                life.Lost = true;
                return;
            }
            life.Created = true;
            life.Gntdev = _gntdev;
            life.RecordedFd = x.Fd;
            life.Fd = export.Fd;
            life.FdOpen = true;
            if (export.Fd != x.Fd || export.PageCount != x.PageCount)
                Diverge(entry, expected, $"fd {export.Fd}, {export.PageCount} pages");
        }

        private void OnGranted(JournalEntry entry, Life life, Granted g)
        {
            if (!Creatable<ImportRequested>(entry, life, out var r)) return;
            BindDevice(entry, g.Device);
            string expected = $"{g.Refs.Length} refs";
            _operations++;
            ImportedDmaBuf import;
            try
            {
                import = Import(entry, life, r);
            }
            catch (GntdevException e)
            {
                Diverge(entry, expected, Failure(e));
                life.Lost = true;
                return;
            }
            life.Created = true;
            if (import.Refs.Count != g.Refs.Length)
                Diverge(entry, expected, $"{import.Refs.Count} refs");
            else if (!import.Refs.SequenceEqual(g.Refs))
                Note(entry, $"refs {Refs(g.Refs)}", $"refs {Refs(import.Refs)} (dom0's grant refs depend on grants the journal does not record)");
        }

        /// <summary>
        /// Imports what the record imported: the re-run fd of a live export recorded with that fd number on this instance
        /// (re-running a refused import of a gntdev export), otherwise a new buffer of the importer device.
        /// </summary>
        private ImportedDmaBuf Import(JournalEntry entry, Life life, ImportRequested r)
        {
            var export = _order.FirstOrDefault(l => l.Id.Kind == LifecycleKind.Export && l.FdOpen && !l.Finished
                                                    && l.Gntdev == _gntdev && l.RecordedFd == r.Fd);
            int fd;
            bool owned = export is null;
            if (export is not null) fd = export.Fd!.Value;
            else
            {
                fd = Device("importer").AllocateBuffer(_process, r.PageCount);
                if (fd != r.Fd) Note(entry, $"buffer fd {r.Fd}", $"buffer fd {fd} (the importer's buffer is allocated by the re-run, not recorded)");
            }
            try
            {
                var import = _gntdev.ImportDmaBuf(fd, r.PageCount, life.Id.Domain);
                life.Gntdev = _gntdev;
                life.RecordedFd = r.Fd;
                life.ImportFd = fd;
                life.OwnsImportBuffer = owned;
                return import;
            }
            catch (GntdevException)
            {
                if (owned) _gntdev.CloseFd(fd);
                throw;
            }
        }

        private void OnMapped(JournalEntry entry, Life life, Mapped m)
        {
            if (!Creatable<MapRequested>(entry, life, out var r)) return;
            BindDevice(entry, m.Device);
            string expected = $"index {m.Index}";
            _operations++;
            try
            {
                life.Mapping = _gntdev.MapGrantRefs(life.Id.Domain, r.Refs, r.ReadOnly);
            }
            catch (GntdevException e)
            {
                Diverge(entry, expected, Failure(e));
                life.Lost = true;
                return;
            }
            life.Created = true;
            life.Gntdev = _gntdev;
            if (life.Mapping.Index != m.Index) Diverge(entry, expected, $"index {life.Mapping.Index}");
        }

        private void OnFailed(JournalEntry entry, Life life, Failed f)
        {
            life.Finished = true;
            if (life.Lost) return;
            if (life.Created)
            {
                // The lifecycle failed later on (e.g. the journal was lost) and released what it held.
                _operations++;
                ReleaseHeld(life);
                return;
            }
            if (life.Request is null)
            {
                Note(entry, "a request before it", "none: not re-executed");
                return;
            }

            string expected = f.Errno is { } errno ? $"failed: {errno} ({(int)errno})" : "failed";
            _operations++;
            string? succeeded = null;
            try
            {
                switch (life.Request)
                {
                    case ExportRequested r:
                        var export = _gntdev.ExportDmaBuf(r.Flags, life.Id.Domain, r.Refs);
                        succeeded = $"exported fd {export.Fd}, {export.PageCount} pages";
                        _gntdev.CloseFd(export.Fd); // the record holds nothing: neither does the re-run
                        break;
                    case ImportRequested r:
                        var import = Import(entry, life, r);
                        succeeded = $"granted {import.Refs.Count} refs";
                        ReleaseHeld(life);
                        break;
                    case MapRequested r:
                        var mapping = _gntdev.MapGrantRefs(life.Id.Domain, r.Refs, r.ReadOnly);
                        succeeded = $"mapped at index {mapping.Index}";
                        _gntdev.UnmapGrantRefs(mapping);
                        break;
                }
            }
            catch (GntdevException e)
            {
                if (succeeded is null)
                {
                    if (f.Errno is { } recorded && recorded != e.Errno) Diverge(entry, expected, Failure(e));
                    return;
                }
                Note(entry, "nothing held after the refusal", $"undoing the re-run's success failed: {Failure(e)}");
            }
            if (succeeded is not null) Diverge(entry, expected, succeeded);
        }

        private void OnAttached(JournalEntry entry, Life life, Attached a)
        {
            if (life.Lost || !life.Created) return;
            string expected = $"{a.Consumer} attached {a.Direction}";
            if (!life.FdOpen || life.Fd is not { } fd)
            {
                Diverge(entry, expected, "the export's fd is already closed");
                return;
            }
            _operations++;
            DmaBufAttachment attachment;
            try
            {
                attachment = Device(a.Consumer).Attach(life.Gntdev!.Process, fd);
            }
            catch (GntdevException e)
            {
                Diverge(entry, expected, Failure(e));
                return;
            }
            try
            {
                attachment.Map(a.Direction);
            }
            catch (GntdevException e)
            {
                attachment.Detach();
                Diverge(entry, expected, Failure(e));
                return;
            }
            if (life.Attachments.Remove(a.Consumer, out var previous)) previous.Detach();
            life.Attachments.Add(a.Consumer, attachment);
        }

        private void OnDetached(JournalEntry entry, Life life, Detached d)
        {
            if (life.Lost || !life.Created) return;
            if (!life.Attachments.Remove(d.Consumer, out var attachment))
            {
                Diverge(entry, $"{d.Consumer} detached", $"{d.Consumer} is not attached");
                return;
            }
            _operations++;
            attachment.Detach();
            if (life.ReleaseRequested && life.FdOpen && life.Attachments.Count == 0) CloseAndProbe(entry, life);
        }

        private void CloseAndProbe(JournalEntry entry, Life life)
        {
            if (!life.FdOpen || life.Fd is not { } fd || life.Gntdev is not { } gntdev) return;
            _operations++;
            try
            {
                life.FdOpen = false;
                gntdev.CloseFd(fd);
                life.Probe = gntdev.WaitReleased(fd, 0);
            }
            catch (GntdevException e)
            {
                Diverge(entry, $"fd {fd} closed and probed", Failure(e));
            }
        }

        private void OnReleased(JournalEntry entry, Life life)
        {
            life.Finished = true;
            if (life.Lost || !life.Created || life.Fd is not { } fd) return;
            string? actual = null;
            if (life.FdOpen)
            {
                actual = life.Attachments.Count > 0
                    ? $"not released: {string.Join(", ", life.Attachments.Keys)} still attached"
                    : $"not released: fd {fd} still open (no release requested)";
            }
            else if (life.Probe != WaitReleasedResult.NotFound)
            {
                // Probe again unless another live export of this instance now has that fd number.
                bool reused = _order.Any(l => l != life && l.FdOpen && l.Gntdev == life.Gntdev && l.Fd == fd);
                if (!reused && life.Gntdev is { IsReleased: false } gntdev && gntdev.Process.IsAlive)
                {
                    _operations++;
                    life.Probe = gntdev.WaitReleased(fd, 0);
                }
                if (life.Probe != WaitReleasedResult.NotFound)
                    actual = $"not released: WAIT_RELEASED on fd {fd} answers {life.Probe?.ToString() ?? "nothing"}";
            }
            if (actual is not null) Diverge(entry, "released", actual);
        }

        private void ReleaseImport(JournalEntry entry, Life life)
        {
            if (life.Lost || !life.Created || life.ImportFd is null) return;
            _operations++;
            try
            {
                ReleaseHeld(life);
            }
            catch (GntdevException e)
            {
                Diverge(entry, "import released", Failure(e));
            }
        }

        private void OnUnmapped(JournalEntry entry, Life life)
        {
            life.Finished = true;
            if (life.Lost || !life.Created) return;
            _operations++;
            try
            {
                ReleaseHeld(life);
            }
            catch (GntdevException e)
            {
                Diverge(entry, "unmapped", Failure(e));
            }
        }

        /// <summary>Releases what a lifecycle holds in the device: an export's fd, an import (and its buffer), a map.</summary>
        private static void ReleaseHeld(Life life)
        {
            if (life.Gntdev is not { } gntdev) return;
            if (life.FdOpen && life.Fd is { } fd)
            {
                life.FdOpen = false;
                gntdev.CloseFd(fd);
            }
            if (life.ImportFd is { } importFd)
            {
                life.ImportFd = null;
                gntdev.ReleaseImport(importFd);
                if (life.OwnsImportBuffer) gntdev.CloseFd(importFd);
            }
            if (life.Mapping is { } mapping)
            {
                life.Mapping = null;
                gntdev.UnmapGrantRefs(mapping);
            }
        }

        private void OnReclaimed(int index, JournalEntry entry, Life life)
        {
            life.Finished = true;
            bool startsRun = index == 0 || entries[index - 1].Event is not Reclaimed;
            if (startsRun)
            {
                Guid? next = null;
                for (int j = index + 1; j < entries.Count && next is null; j++)
                {
                    next = entries[j].Event switch
                    {
                        Exported x => x.Device,
                        Granted g => g.Device,
                        Mapped m => m.Device,
                        _ => null,
                    };
                }
                if (next is { } same && same == _boundDevice)
                    Note(entry, "a host restart", "the next object is on the same device instance: the process survived, not restarted");
                else
                    Restart();
            }
        }

        /// <summary>The journal's device instance changed without a reclaim: the old process died with nothing live.</summary>
        private void BindDevice(JournalEntry entry, Guid device)
        {
            if (_boundDevice is { } bound && bound != device)
            {
                Note(entry, $"device instance {bound}", $"device instance {device}: treated as a host restart");
                Restart();
            }
            _boundDevice = device;
        }

        /// <summary>The owner process dies (the kernel tears down its maps and closes its fds); a new one opens gntdev.</summary>
        private void Restart()
        {
            _operations++;
            var old = _gntdev;
            _process.Exit();
            foreach (var life in _order.Where(l => l.Gntdev == old))
            {
                life.FdOpen = false;
                life.ImportFd = null;
                life.Mapping = null;
            }
            _process = sim.StartProcess("backend");
            _gntdev = sim.OpenGrantDevice(_process);
            _boundDevice = null;
        }

        private void TearDown()
        {
            foreach (var life in _order)
            {
                foreach (var attachment in life.Attachments.Values)
                {
                    try
                    {
                        attachment.Detach();
                    }
                    catch (GntdevException)
                    {
                        // already detached: nothing to undo
                    }
                }
                life.Attachments.Clear();
            }
            _gntdev.Dispose();
            foreach (var (domain, refs) in _frontendGrants)
            {
                foreach (uint r in refs)
                {
                    try
                    {
                        domain.EndAccess(r); // false while still mapped (a leak the ledger shows)
                    }
                    catch (GntdevException)
                    {
                        // not granted any more
                    }
                }
            }
        }

        private SimulatedDevice Device(string name)
        {
            if (!_devices.TryGetValue(name, out var device)) _devices.Add(name, device = sim.AddDevice(name));
            return device;
        }

        private void Diverge(JournalEntry entry, string expected, string actual) =>
            _divergences.Add(new Divergence(entry.SequenceNr, entry.Event.Id, JournalVocabulary.EventName(entry.Event), expected, actual));

        private void Note(JournalEntry entry, string expected, string actual) =>
            _notes.Add(new Divergence(entry.SequenceNr, entry.Event.Id, JournalVocabulary.EventName(entry.Event), expected, actual));

        private static string Failure(GntdevException e) => $"failed: {e.Errno} ({(int)e.Errno}): {e.Detail}";

        private static string Refs(IEnumerable<uint> refs)
        {
            var list = refs.ToList();
            return list.Count <= 4 ? string.Join(",", list) : $"{list[0]},{list[1]}..{list[^1]} ({list.Count})";
        }
    }
}
