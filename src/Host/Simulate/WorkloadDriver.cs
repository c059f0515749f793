using System.Diagnostics;
using Akka.Actor;
using Akka.Hosting;
using BufferActors.Actors;
using BufferActors.Actors.Api;
using BufferActors.Actors.Hosting;
using BufferActors.Actors.Lifecycles;
using BufferActors.Actors.Persistence;
using BufferActors.Actors.Persistence.Replay;
using BufferActors.Actors.Supervision;
using BufferActors.Native;
using BufferActors.Native.Simulation;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace BufferActors.Host.Simulate;

/// <summary>
/// Runs one seeded workload on the in-process simulator through the real actor system and the
/// embedding client. Every operation is awaited before the next one starts and every random choice
/// comes from one <see cref="Random"/> seeded with the run's seed, so the simulator sees the same calls
/// in the same order and the fault plan (<c>new FaultPlan(seed).WithRandomFaults(rate)</c>) injects the
/// same faults. Phases where several actors touch the device at once (a domain's death cleanup, the
/// let-go at the end) run with the fault plan switched off, so they cannot make a seed non-reproducible.
/// </summary>
internal sealed class WorkloadDriver
{
    private sealed class Frontend(SimulatedDomain domain)
    {
        public SimulatedDomain Domain { get; } = domain;
        public bool Alive { get; set; } = true;
        public bool Crashed { get; set; }
        public List<uint> OpenGrants { get; } = [];
    }

    private sealed class ExportEntry(Frontend owner, uint firstFrame, uint[] refs, LifecycleId id, int fd)
    {
        public Frontend Owner { get; } = owner;
        public uint FirstFrame { get; } = firstFrame;
        public uint[] Refs { get; } = refs;
        public LifecycleId Id { get; } = id;
        public int Fd { get; } = fd;
        public DmaBufAttachment? Scanout { get; set; }
        public bool Recorded { get; set; } // the actor knows the display is attached
        public bool Quarantined { get; set; } // held by the stuck device past its release, and the actors said so
        public DmaBuf? Buffer { get; init; } // what Fd named when the export answered: a lifecycle stopped since may have let the number go
    }

    private sealed class ImportEntry(Frontend owner, int deviceFd, LifecycleId id, IReadOnlyList<uint> refs)
    {
        public Frontend Owner { get; } = owner;
        public int DeviceFd { get; } = deviceFd;
        public LifecycleId Id { get; } = id;
        public IReadOnlyList<uint> Refs { get; } = refs;
        public List<int> Handles { get; } = [];
    }

    private sealed class MapEntry(Frontend owner, uint[] refs, LifecycleId id)
    {
        public Frontend Owner { get; } = owner;
        public uint[] Refs { get; } = refs;
        public LifecycleId Id { get; } = id;
    }

    private const string Display = "display";
    private static readonly TimeSpan WaitTimeout = TimeSpan.FromSeconds(2);

    // The stuck-device scenario: a domain's cap on quarantined exports, and how soon a held release is quarantined.
    private const int QuarantineCap = 2;
    private static readonly ExportSettings StuckDeviceTiming = new(TimeSpan.FromMilliseconds(1), TimeSpan.FromMilliseconds(2), TimeSpan.FromMilliseconds(4));

    private readonly SimulationSettings _s;
    private readonly Random _rng;
    private readonly Random _actorFaultRng;
    private readonly List<Frontend> _frontends = [];
    private readonly List<ExportEntry> _exports = [];
    private readonly List<ImportEntry> _imports = [];
    private readonly List<MapEntry> _maps = [];
    private readonly List<ExportEntry> _held = []; // released exports the stuck device still holds
    private SimulatedProcess? _stuck; // the stuck device's process: it holds what it was given until it dies
    private readonly List<string> _trace = [];
    private readonly Dictionary<string, int> _opsByKind = [];
    private readonly Dictionary<string, int> _outcomes = [];
    private XenSimulator _sim = null!;
    private BufferActorsClient _client = null!;
    private SimulatedProcess _backend = null!;
    private SimulatedDevice _display = null!;
    private SimulatedDevice _camera = null!;
    private InvariantChecker _checker = null!;
    private readonly AcknowledgedSteps _acked = new();
    private readonly JournalFaultInjector _journalFaults;
    private DeviceSession? _session;
    private ActorSystem _system = null!;
    private volatile bool _actorFaultsArmed;
    private int _actorFaultBudget = 3;
    private int _actorFaults;
    private int _crashes;
    private ushort _nextDomain = 1;
    private int _op;

    /// <summary>Told the number of operations done after each one (the progress bar).</summary>
    public Action<int>? Progress { get; init; }

    public WorkloadDriver(SimulationSettings settings)
    {
        _s = settings;
        _rng = new Random(settings.Seed);
        _actorFaultRng = new Random(unchecked(settings.Seed * 7919 + 17));
        _journalFaults = new JournalFaultInjector(settings.Seed, settings.FaultRate);
    }

    public async Task<SimulationResult> RunAsync()
    {
        var clock = Stopwatch.StartNew();
        int pagesPerDomain = Math.Max(4096, (_s.Operations + 8) * _s.Pages * 2);
        using var sim = _sim = new XenSimulator(new SimulatorOptions { Seed = _s.Seed, DefaultDomainPages = pagesPerDomain });
        _checker = new InvariantChecker(sim);
        var host = new HostBuilder()
            .ConfigureServices(services =>
            {
                services.AddBufferActors(
                    new BufferActorsOptions
                    {
                        DeviceFactory = _ => sim.OpenGrantDevice(),
                        Journal = _s.Journal,
                        RequestTimeout = TimeSpan.FromSeconds(10),
                        InlineDispatch = _s.InlineDispatch,
                        JournalSettings = new LifecycleJournal.Settings(Faults: _journalFaults.Decide),
                        Quotas = _s.Scenario == SimulationScenario.StuckDevice
                            ? DomainLifecycles.Quotas.Default with { MaxQuarantinedBuffers = QuarantineCap + (_s.BrokenQuarantineCap ? 1 : 0) }
                            : DomainLifecycles.Quotas.Default,
                        Export = _s.Scenario == SimulationScenario.StuckDevice ? StuckDeviceTiming : ExportSettings.Default,
                    },
                    akka => akka.AddHocon("akka.loglevel = OFF\nakka.stdout-loglevel = OFF\nakka.loggers = []", HoconAddMode.Append),
                    systemName: $"simulate-{_s.Seed}");
                // The same session AddBufferActors would make, plus the actor-exception seam.
                services.AddSingleton(sp => new DeviceSession(sp.GetRequiredService<IGrantDevice>()) { HandlerCheckpoint = ActorFault });
            })
            .Build();
        await host.StartAsync().ConfigureAwait(false);
        _client = host.Services.GetRequiredService<BufferActorsClient>();
        _system = host.Services.GetRequiredService<ActorSystem>();
        _backend = ((SimulatedGrantDevice)host.Services.GetRequiredService<IGrantDevice>()).Process;
        _session = host.Services.GetRequiredService<DeviceSession>();
        _display = sim.AddDevice(Display);
        _camera = sim.AddDevice("camera");
        if (_s.Scenario == SimulationScenario.StuckDevice) _stuck = sim.StartProcess("stuck-device");
        var baseline = sim.Ledger();
        var plan = new FaultPlan(_s.Seed).WithRandomFaults(_s.FaultRate);
        // Held exports are probed on timers, as often as time allows: their EXP_WAIT_RELEASED calls must not draw on the seed.
        if (_s.Scenario == SimulationScenario.StuckDevice) plan.WithoutRandomFaultsAt(FaultSite.WaitReleased);
        sim.Faults = plan;
        _actorFaultsArmed = _s.FaultRate > 0;
        _journalFaults.Armed = _s.FaultRate > 0;

        for (int d = 0; d < _s.Domains; d++) Connect();
        for (_op = 1; _op <= _s.Operations; _op++)
        {
            string kind = await StepAsync().ConfigureAwait(false);
            _opsByKind[kind] = _opsByKind.GetValueOrDefault(kind) + 1;
            sim.Tick();
            _checker.AfterOperation(_op, AttachedExports());
            _checker.ImportsStillGranted(_op, _imports.Where(i => i.Owner.Alive).Select(i => (i.Id, i.Refs)));
            Progress?.Invoke(_op);
        }

        // Let go of everything, fault-free: what is left must be exactly the baseline.
        _actorFaultsArmed = false;
        _journalFaults.Armed = false;
        sim.Faults = FaultPlan.None;
        int live = await LetGoAsync().ConfigureAwait(false);
        await _checker.AtQuiescenceAsync(LedgerDelta.Of(sim.Ledger(), baseline), live).ConfigureAwait(false);
        var ledger = LedgerDelta.Of(sim.Ledger(), baseline);
        if (_s.Journal is not null) await FlushJournalAsync().ConfigureAwait(false);
        await host.StopAsync().ConfigureAwait(false);
        host.Dispose();
        if (_s.Journal is { } journal) await CheckJournalAsync(journal, ledger).ConfigureAwait(false);

        var bySite = plan.Injected.GroupBy(f => f.Site.ToString())
            .Select(g => (Site: g.Key, Count: g.Count()))
            .Append((Site: "JournalReject", Count: _journalFaults.Rejected)).Append((Site: "JournalFail", Count: _journalFaults.Failed))
            .Where(p => p.Count > 0).OrderBy(p => p.Site, StringComparer.Ordinal)
            .ToDictionary(p => p.Site, p => p.Count);
        int injected = plan.Injected.Count + _journalFaults.Rejected + _journalFaults.Failed;
        return new SimulationResult(_s, _s.Operations, Sorted(_opsByKind), injected, bySite, _actorFaults, _crashes,
            Sorted(_outcomes), [.. _checker.Violations], ledger, [.. _trace], clock.Elapsed.TotalMilliseconds);
    }

    /// <summary>What lifecycles owe the journal (ends of lifecycles stopped by faults, releases seen after they stopped) is written before the host stops.</summary>
    private async Task FlushJournalAsync()
    {
        try
        {
            await _client.FlushJournalAsync().WaitAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(false);
        }
        catch (Exception e) when (e is TimeoutException or BufferActorsException)
        {
            _checker.Fail($"quiescence: the journal did not take what lifecycles owed it: {e.Message}");
        }
    }

    /// <summary>
    /// The journal, read back after the host stopped, tells the truth: every step a caller was told succeeded
    /// has its event there; the live set replayed from it equals the ledger's live set at quiescence (kind by
    /// kind); and its replay shows no anomaly.
    /// </summary>
    private async Task CheckJournalAsync(JournalStorage journal, LedgerDelta ledger)
    {
        IReadOnlyList<JournalEntry> entries;
        try
        {
            entries = await JournalReader.ReadAsync(journal).ConfigureAwait(false);
        }
        catch (Exception e) when (e is JournalUnreadableException or JournalFormatException)
        {
            _checker.Fail($"journal: cannot be read back after the run: {e.Message}");
            return;
        }
        foreach (var missing in _acked.MissingFrom(entries)) _checker.Fail(missing);
        _checker.JournalAgreesWithLedger(JournalTimeline.Build(entries), ledger);
    }

    /// <summary>
    /// After a request was refused with a journal error, waits until the journal runs again (a storage
    /// failure stops it and its supervisor starts it after a back-off): the next step must not depend on
    /// how fast that happens, or the seed would not reproduce.
    /// </summary>
    private async Task AwaitJournalAsync()
    {
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < TimeSpan.FromSeconds(10))
        {
            try
            {
                var journal = await _system.ActorSelection($"/user/journal/{LifecycleJournal.ChildName}").ResolveOne(TimeSpan.FromSeconds(1)).ConfigureAwait(false);
                await journal.Ask<LifecycleJournal.Live>(new LifecycleJournal.GetLive(), TimeSpan.FromSeconds(2)).ConfigureAwait(false);
                return;
            }
            catch (Exception e) when (e is ActorNotFoundException or AskTimeoutException)
            {
                await Task.Delay(5).ConfigureAwait(false);
            }
        }
        _checker.Fail($"op {_op}: the journal did not come back within 10 s of a write failure");
    }

    private static Dictionary<string, int> Sorted(Dictionary<string, int> d) =>
        d.OrderBy(p => p.Key, StringComparer.Ordinal).ToDictionary(p => p.Key, p => p.Value);

    // ---- actor exceptions: a seeded throw on entry to a lifecycle handler, only while the driver is sequential (docs/fault-model.md) ----

    private void ActorFault(LifecycleId id, string handler)
    {
        if (!_actorFaultsArmed || _actorFaultBudget <= 0 || handler is "Get" or "WaitExpired" or "ProbeRelease") return;
        // WaitReleased is excluded unless asked for: whether a wait reaches its lifecycle or is answered by the
        // supervisor after the lifecycle finished is a race, and the seeded fault sequence must not depend on it
        // (a throwing WaitReleased handler is answered by PostStop: SupervisionTests).
        if (handler == "WaitReleased" && !_s.ActorFaultsInWaitReleased) return;
        if (_actorFaultRng.NextDouble() >= _s.FaultRate / 2) return;
        _actorFaultBudget--;
        _actorFaults++;
        Trace($"  actor fault: {id} throws in {handler}");
        throw new InvalidOperationException($"simulate: injected actor exception in {id} handling {handler}");
    }

    // ---- operations ----

    private T Pick<T>(IReadOnlyList<T> items) => items[_rng.Next(items.Count)];

    private void Trace(string line) => _trace.Add(line);

    private void Outcome(string kind, string outcome) => _outcomes[$"{kind}:{outcome}"] = _outcomes.GetValueOrDefault($"{kind}:{outcome}") + 1;

    private IEnumerable<(LifecycleId, SimulatedDomain, uint[])> AttachedExports() =>
        _exports.Where(e => e.Scanout is not null).Select(e => (e.Id, e.Owner.Domain, e.Refs));

    private List<Frontend> Live => [.. _frontends.Where(f => f.Alive)];

    private string Connect()
    {
        var f = new Frontend(_sim.CreateDomain(_nextDomain++));
        _frontends.Add(f);
        Trace($"#{_op} connect {f.Domain.Id}");
        return "connect";
    }

    private async Task<string> StepAsync()
    {
        var live = Live;
        // Frontends come and go in every scenario; a crash (docs/fault-model.md) is rarer than a clean disconnect.
        double roll = _rng.NextDouble();
        if (live.Count < _s.Domains && roll < 0.3) return Connect();
        if (live.Count > 0 && roll < _s.FaultRate / 2 + 0.0) return await CrashAsync(Pick(live)).ConfigureAwait(false);
        if (live.Count == 0) return Connect();
        return _s.Scenario switch
        {
            SimulationScenario.Display => await DisplayStepAsync(live).ConfigureAwait(false),
            SimulationScenario.Camera => await CameraStepAsync(live).ConfigureAwait(false),
            SimulationScenario.FdChurn => await FdChurnStepAsync(live).ConfigureAwait(false),
            SimulationScenario.StuckDevice => await StuckDeviceStepAsync(live).ConfigureAwait(false),
            _ => await ChurnStepAsync(live).ConfigureAwait(false),
        };
    }

    private async Task<string> DisplayStepAsync(List<Frontend> live)
    {
        int choice = _rng.Next(100);
        var attached = _exports.Where(e => e.Scanout is not null).ToList();
        var idle = _exports.Where(e => e.Scanout is null).ToList();
        if (choice < 25)
        {
            var f = Pick(live);
            if (_exports.Count(e => e.Owner == f) < _s.Buffers) { await ShareAsync(f).ConfigureAwait(false); return "share"; }
        }
        if (choice < 45 && idle.Count > 0) { await AttachAsync(Pick(idle)).ConfigureAwait(false); return "attach"; }
        if (choice < 75 && attached.Count > 0) { Flip(Pick(attached)); return "flip"; }
        if (choice < 85 && attached.Count > 0) { await DetachAsync(Pick(attached)).ConfigureAwait(false); return "detach"; }
        if (choice < 96 && _exports.Count > 0) { await ReleaseExportAsync(Pick(_exports)).ConfigureAwait(false); return "release"; }
        if (live.Count > 1 || _s.Domains == 1) { await DisconnectAsync(Pick(live)).ConfigureAwait(false); return "disconnect"; }
        await ShareAsync(Pick(live)).ConfigureAwait(false);
        return "share";
    }

    private async Task<string> CameraStepAsync(List<Frontend> live)
    {
        int choice = _rng.Next(100);
        if (choice < 30)
        {
            var f = Pick(live);
            if (_imports.Count(i => i.Owner == f) < _s.Buffers) { await ImportAsync(f).ConfigureAwait(false); return "capture"; }
        }
        var unmapped = _imports.Where(i => i.Handles.Count == 0 && i.Owner.Alive).ToList();
        var mapped = _imports.Where(i => i.Handles.Count > 0).ToList();
        if (choice < 50 && unmapped.Count > 0) { FrontendMap(Pick(unmapped)); return "frontend-map"; }
        if (choice < 60 && mapped.Count > 0) { FrontendUnmap(Pick(mapped)); return "frontend-unmap"; }
        if (choice < 80 && _imports.Count > 0) { await ReleaseImportAsync(Pick(_imports), frontendLetsGo: _rng.Next(5) != 0).ConfigureAwait(false); return "release-import"; }
        if (choice < 90 && _maps.Count(m => m.Owner.Alive) < _s.Domains * _s.Buffers) { await MapAsync(Pick(live)).ConfigureAwait(false); return "map"; }
        if (choice < 97 && _maps.Count > 0) { await UnmapAsync(Pick(_maps)).ConfigureAwait(false); return "unmap"; }
        if (live.Count > 1 || _s.Domains == 1) { await DisconnectAsync(Pick(live)).ConfigureAwait(false); return "disconnect"; }
        await ImportAsync(Pick(live)).ConfigureAwait(false);
        return "capture";
    }

    private async Task<string> ChurnStepAsync(List<Frontend> live)
    {
        var f = Pick(live);
        switch (_rng.Next(3))
        {
            case 0:
                if (await ShareAsync(f).ConfigureAwait(false) is { } e)
                {
                    if (_rng.Next(2) == 0) await AttachAsync(e).ConfigureAwait(false);
                    if (e.Scanout is not null) Flip(e);
                    await ReleaseExportAsync(e).ConfigureAwait(false);
                }
                return "export-cycle";
            case 1:
                if (await ImportAsync(f).ConfigureAwait(false) is { } i)
                {
                    if (_rng.Next(2) == 0) FrontendMap(i);
                    await ReleaseImportAsync(i, frontendLetsGo: _rng.Next(4) != 0).ConfigureAwait(false);
                }
                return "import-cycle";
            default:
                if (await MapAsync(f).ConfigureAwait(false) is { } m) await UnmapAsync(m).ConfigureAwait(false);
                return "map-cycle";
        }
    }

    private async Task<string> FdChurnStepAsync(List<Frontend> live)
    {
        var f = Pick(live);
        switch (_rng.Next(4))
        {
            case 0:
                // The caller closes its fd as soon as the import answers: the number goes to the next buffer.
                if (await ImportAsync(f, closeCallerFd: true).ConfigureAwait(false) is { } i && _rng.Next(2) == 0) FrontendMap(i);
                return "import-close";
            case 1:
                if (_imports.Count > 0) { await ReleaseImportAsync(Pick(_imports), frontendLetsGo: _rng.Next(4) != 0).ConfigureAwait(false); return "release-import"; }
                goto case 0;
            case 2:
                if (await ShareAsync(f).ConfigureAwait(false) is { } e)
                {
                    if (_rng.Next(2) == 0) await AttachAsync(e).ConfigureAwait(false);
                    if (_rng.Next(2) == 0) await ReleaseExportAsync(e).ConfigureAwait(false);
                }
                return "export";
            default:
                if (_exports.Count > 0) { await ReleaseExportAsync(Pick(_exports)).ConfigureAwait(false); return "release"; }
                goto case 2;
        }
    }

    /// <summary>
    /// Displays as in <see cref="DisplayStepAsync"/>, and a device that never lets go: some exports are handed to it
    /// (their descriptor passed to its process) and released; the driver waits until each is quarantined, so that the
    /// cap's effect on the next export does not depend on timing; now and then the device's process dies.
    /// </summary>
    private async Task<string> StuckDeviceStepAsync(List<Frontend> live)
    {
        int choice = _rng.Next(100);
        var attached = _exports.Where(e => e.Scanout is not null).ToList();
        var idle = _exports.Where(e => e.Scanout is null).ToList();
        if (choice < 30)
        {
            var f = Pick(live);
            if (_exports.Count(e => e.Owner == f) < _s.Buffers) { await ShareUnderCapAsync(f).ConfigureAwait(false); return "share"; }
        }
        if (choice < 55 && idle.Count > 0) { await HandToStuckDeviceAsync(Pick(idle)).ConfigureAwait(false); return "stuck-release"; }
        if (choice < 62 && idle.Count > 0) { await AttachAsync(Pick(idle)).ConfigureAwait(false); return "attach"; }
        if (choice < 68 && attached.Count > 0) { Flip(Pick(attached)); return "flip"; }
        if (choice < 74 && attached.Count > 0) { await DetachAsync(Pick(attached)).ConfigureAwait(false); return "detach"; }
        if (choice < 92 && _exports.Count > 0) { await ReleaseExportAsync(Pick(_exports)).ConfigureAwait(false); return "release"; }
        if (choice < 94 && _held.Count > 0) { await StuckDeviceDiesAsync(restart: true).ConfigureAwait(false); return "device-dies"; }
        if (live.Count > 1 || _s.Domains == 1) { await DisconnectAsync(Pick(live)).ConfigureAwait(false); return "disconnect"; }
        await ShareUnderCapAsync(Pick(live)).ConfigureAwait(false);
        return "share";
    }

    /// <summary>An export of <paramref name="f"/>, which the cap must refuse (QuotaExceeded) exactly when the domain has <see cref="QuarantineCap"/> quarantined exports.</summary>
    private async Task ShareUnderCapAsync(Frontend f)
    {
        int quarantined = _held.Count(e => e.Owner == f && e.Quarantined);
        var (export, outcome) = await TryShareAsync(f).ConfigureAwait(false);
        if (quarantined >= QuarantineCap && outcome != "refused-QuotaExceeded")
            _checker.Fail($"op {_op}: {f.Domain.Id} has {quarantined} quarantined exports (cap {QuarantineCap}), but its new export was {(export is null ? outcome : "served")}");
        if (quarantined < QuarantineCap && outcome == "refused-QuotaExceeded")
            _checker.Fail($"op {_op}: {f.Domain.Id} has {quarantined} quarantined exports (cap {QuarantineCap}), but its new export was refused QuotaExceeded");
    }

    /// <summary>The export's descriptor is passed to the stuck device's process, which keeps it; the export is released and quarantined.</summary>
    private async Task HandToStuckDeviceAsync(ExportEntry e)
    {
        if (e.Buffer is null || !ReferenceEquals(BufferAt(e.Fd), e.Buffer) || !TryHandOver(e.Fd))
        {
            // Its lifecycle stopped on its own (a journal failure) and closed the descriptor: nothing to hand over.
            Trace($"#{_op} stuck-release {e.Id}: its descriptor is gone");
            await ReleaseExportAsync(e).ConfigureAwait(false);
            return;
        }
        _exports.Remove(e);
        _held.Add(e);
        var (_, outcome) = await Call(e.Id, () => _client.ReleaseAsync(e.Id)).ConfigureAwait(false);
        if (outcome == "ok") _acked.Add(e.Id, "release");
        // Quarantine comes from a timer; the driver waits for it, so that the next steps see the same state every run.
        e.Quarantined = outcome == "ok" && await AwaitQuarantinedAsync(e.Id).ConfigureAwait(false);
        // A lifecycle that ended instead may have been stopped by a journal storage failure in its quarantine's write,
        // which the driver did not see: the next step must not depend on how soon the journal is back.
        if (!e.Quarantined && _s.Journal is not null) await AwaitJournalAsync().ConfigureAwait(false);
        Trace($"#{_op} stuck-release {e.Id} -> {outcome}{(e.Quarantined ? ", quarantined" : "")}");
        Outcome("export", outcome == "ok" ? "held" : outcome);
    }

    /// <summary>The dma-buf the backend's descriptor <paramref name="fd"/> names now, if it names one.</summary>
    private DmaBuf? BufferAt(int fd)
    {
        try
        {
            return _backend.DmaBufOf(fd);
        }
        catch (GntdevException)
        {
            return null;
        }
    }

    /// <summary>Passes <paramref name="fd"/> to the stuck device's process (SCM_RIGHTS); false if it was closed meanwhile.</summary>
    private bool TryHandOver(int fd)
    {
        try
        {
            _stuck!.ReceiveFrom(_backend, fd);
            return true;
        }
        catch (GntdevException)
        {
            return false;
        }
    }

    /// <summary>True once the lifecycle says it is quarantined; false if it ended first (a seeded actor fault stopped it).</summary>
    private async Task<bool> AwaitQuarantinedAsync(LifecycleId id)
    {
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < TimeSpan.FromSeconds(5))
        {
            try
            {
                if ((await _client.StatusAsync(id).ConfigureAwait(false)).Quarantined) return true;
            }
            catch (BufferActorsException e) when (e.Code == ErrorCode.NotFound)
            {
                return false;
            }
            await Task.Delay(2).ConfigureAwait(false);
        }
        _checker.Fail($"op {_op}: {id} released and held by a device, but not quarantined within 5 s (quarantine after {StuckDeviceTiming.QuarantineAfter.TotalMilliseconds} ms)");
        return false;
    }

    /// <summary>
    /// The stuck device's process dies, closing what it held: every held export is released by the kernel, its lifecycle
    /// ends, and its frontend can end its grants. Fault-free, as several lifecycles end at once.
    /// </summary>
    private async Task StuckDeviceDiesAsync(bool restart)
    {
        Trace($"#{_op} the stuck device's process dies, letting go of {_held.Count} export(s)");
        using (FaultFree())
        {
            // The held exports' background writes (quarantine, probes' ends) may have met a journal storage failure the
            // driver did not see; their release is journaled now, and must not depend on how soon the journal is back.
            if (_s.Journal is not null) await AwaitJournalAsync().ConfigureAwait(false);
            _stuck!.Exit();
            foreach (var e in _held)
            {
                var wait = _client.WaitReleasedAsync(e.Id, WaitTimeout);
                _checker.TrackWait(e.Id.ToString(), wait);
                try
                {
                    if (await wait.ConfigureAwait(false) == WaitReleasedResult.TimedOut)
                        _checker.Fail($"op {_op}: {e.Id} not released after the process holding it died");
                }
                catch (BufferActorsException ex)
                {
                    // Answered all the same (the checker counts it): the lifecycle stopped on a journal failure and released.
                    Trace($"#{_op} wait {e.Id} -> {ex.Code}");
                }
                EndGrants(e.Owner, e.Refs, e.Id.ToString());
            }
            // The held exports' numbers are freed once the kernel released them, by their actors' probes or the session's
            // reaper, both on timers: the run goes on when they are free, so the next export's number does not depend
            // on how soon those timers fired (the same seed gives the same run).
            var numbers = _held.Select(e => e.Fd).ToList();
            await _sim.Gate.When(() => numbers.TrueForAll(fd => !_backend.IsOpen(fd)), TimeSpan.FromSeconds(10)).ConfigureAwait(false);
            _held.Clear();
            _stuck = restart ? _sim.StartProcess("stuck-device") : null;
        }
    }

    /// <summary>
    /// Until disposed, no fault of any kind is injected (simulator, actors, journal): for phases where several actors
    /// touch the device at once, whose order would make the seeded faults depend on timing.
    /// </summary>
    private FaultFreeScope FaultFree()
    {
        var scope = new FaultFreeScope(this, _sim.Faults, _actorFaultsArmed);
        _sim.Faults = FaultPlan.None;
        _actorFaultsArmed = false;
        _journalFaults.Armed = false;
        return scope;
    }

    private readonly struct FaultFreeScope(WorkloadDriver driver, FaultPlan plan, bool armed) : IDisposable
    {
        public void Dispose()
        {
            driver._sim.Faults = plan;
            driver._actorFaultsArmed = armed;
            driver._journalFaults.Armed = armed;
        }
    }

    /// <summary>A lifecycle command's outcome when the lifecycle failed handling it: answered Stopped, or (a failure after the handler) not at all.</summary>
    private static bool LifecycleFailed(string outcome) => outcome is "stopped" or "no-reply";

    /// <summary>
    /// Awaits a client call. A lifecycle that fails in a command's handler answers it Stopped; one that fails
    /// later (after a journal write) sends no reply, which is detected by asking whether it is gone.
    /// </summary>
    private async Task<(T? Reply, string Outcome)> Call<T>(LifecycleId? id, Func<Task<T>> call) where T : class
    {
        var task = call();
        var started = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                return (await task.WaitAsync(TimeSpan.FromMilliseconds(50)).ConfigureAwait(false), "ok");
            }
            catch (TimeoutException)
            {
                if (id is { } lifecycle && await IsGoneAsync(lifecycle).ConfigureAwait(false))
                {
                    _ = task.ContinueWith(t => _ = t.Exception, TaskContinuationOptions.OnlyOnFaulted);
                    return (null, "no-reply");
                }
                if (started.Elapsed > TimeSpan.FromSeconds(10))
                {
                    _ = task.ContinueWith(t => _ = t.Exception, TaskContinuationOptions.OnlyOnFaulted);
                    _checker.Fail($"op {_op}: request to {id?.ToString() ?? "the manager"} unanswered after 10 s");
                    return (null, "unanswered");
                }
            }
            catch (BufferActorsException e) when (e.Code == ErrorCode.Stopped && id is not null)
            {
                return (null, "stopped"); // the lifecycle failed in this request's handler and said so
            }
            catch (BufferActorsException e)
            {
                if (e.Code == ErrorCode.Journal && _s.Journal is not null) await AwaitJournalAsync().ConfigureAwait(false);
                return (null, $"refused-{e.Code}{(e.Failure.Errno is { } errno ? "-" + errno : "")}");
            }
        }
    }

    private async Task<bool> IsGoneAsync(LifecycleId id)
    {
        try
        {
            await _client.StatusAsync(id).WaitAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false);
            return false;
        }
        catch (BufferActorsException e) when (e.Code == ErrorCode.NotFound)
        {
            return true;
        }
        catch (TimeoutException)
        {
            return false;
        }
    }

    private async Task<ExportEntry?> ShareAsync(Frontend f) => (await TryShareAsync(f).ConfigureAwait(false)).Export;

    private async Task<(ExportEntry? Export, string Outcome)> TryShareAsync(Frontend f)
    {
        uint first = f.Domain.AllocatePages(_s.Pages);
        var refs = f.Domain.GrantPages(DomainId.Dom0, first, _s.Pages);
        var flags = _rng.Next(3) == 0 ? DmaBufFlags.WriteCombine : DmaBufFlags.None;
        var (reply, outcome) = await Call(null, () => _client.ExportAsync(f.Domain.Id, refs, flags)).ConfigureAwait(false);
        Trace($"#{_op} export {f.Domain.Id} {_s.Pages}p {flags} -> {(reply is null ? outcome : $"{reply.Id} fd {reply.Fd}")}");
        if (reply is null)
        {
            Outcome("export", outcome);
            EndGrants(f, refs, "refused export");
            return (null, outcome);
        }
        var e = new ExportEntry(f, first, refs, reply.Id, reply.Fd) { Buffer = BufferAt(reply.Fd) };
        _exports.Add(e);
        _acked.Add(e.Id, "export");
        return (e, outcome);
    }

    private async Task AttachAsync(ExportEntry e)
    {
        DmaBufAttachment? a = null;
        try
        {
            a = _display.Attach(_backend, e.Fd);
            a.Map(DmaDirection.ToDevice);
        }
        catch (GntdevException ex)
        {
            a?.Detach();
            Trace($"#{_op} attach {e.Id}: device refused ({ex.Errno})");
            return;
        }
        e.Scanout = a;
        var (reply, outcome) = await Call(e.Id, () => _client.AttachAsync(e.Id, Display, DmaDirection.ToDevice)).ConfigureAwait(false);
        Trace($"#{_op} attach {e.Id} -> {outcome}");
        if (reply is not null) { e.Recorded = true; _acked.Add(e.Id, "attach"); return; }
        if (LifecycleFailed(outcome)) await LifecycleFailedAsync(e).ConfigureAwait(false);
        else { a.Detach(); e.Scanout = null; } // the actor refused: the display lets go
    }

    private void Flip(ExportEntry e)
    {
        var pixel = (byte)(_op * 31 + e.Owner.Domain.Id.Value);
        int page = _rng.Next(_s.Pages);
        e.Owner.Domain.Page(e.FirstFrame + (uint)page)[_op % 4096] = pixel;
        var seen = e.Scanout!.Buffer.CpuView().Page(page)[_op % 4096];
        Trace($"#{_op} flip {e.Id} page {page}");
        if (seen != pixel) _checker.Fail($"op {_op}: zero copy broken: {e.Id} page {page} shows {seen}, the frontend wrote {pixel}");
    }

    private async Task DetachAsync(ExportEntry e)
    {
        e.Scanout!.Detach();
        e.Scanout = null;
        if (!e.Recorded) { Trace($"#{_op} detach {e.Id} (device only)"); return; }
        e.Recorded = false;
        var (_, outcome) = await Call(e.Id, () => _client.DetachAsync(e.Id, Display)).ConfigureAwait(false);
        Trace($"#{_op} detach {e.Id} -> {outcome}");
        if (outcome == "ok") _acked.Add(e.Id, "detach");
        if (LifecycleFailed(outcome)) await LifecycleFailedAsync(e).ConfigureAwait(false);
    }

    private async Task ReleaseExportAsync(ExportEntry e, bool checkWait = true)
    {
        if (e.Scanout is not null) await DetachAsync(e).ConfigureAwait(false);
        if (!_exports.Contains(e)) return; // the lifecycle failed while detaching
        var (_, outcome) = await Call(e.Id, () => _client.ReleaseAsync(e.Id)).ConfigureAwait(false);
        if (outcome == "ok") _acked.Add(e.Id, "release");
        var wait = _client.WaitReleasedAsync(e.Id, WaitTimeout);
        _checker.TrackWait(e.Id.ToString(), wait);
        WaitReleasedResult? result = null;
        try { result = await wait.ConfigureAwait(false); }
        catch (Exception ex) { Trace($"#{_op} wait {e.Id} threw {ex.GetType().Name}"); } // the checker reports it (TrackWait); the run goes on
        // NotFound means "already released": whether the wait arrived before or after the lifecycle
        // retired is a race of the actor system, not of the seed, so the trace records the meaning.
        string waited = result switch
        {
            WaitReleasedResult.Released or WaitReleasedResult.NotFound => "released",
            null => "-",
            var r => r.ToString()!,
        };
        Trace($"#{_op} release {e.Id} -> {outcome}, wait {waited}");
        if (checkWait && result == WaitReleasedResult.TimedOut)
            _checker.Fail($"op {_op}: {e.Id} released with no consumer, but WaitReleased timed out");
        Outcome("export", outcome == "ok" ? "released" : outcome);
        _exports.Remove(e);
        EndGrants(e.Owner, e.Refs, e.Id.ToString());
    }

    /// <summary>A lifecycle stopped on an exception: its PostStop closed the fd; the display lets go and the frontend ends its grants.</summary>
    private Task LifecycleFailedAsync(ExportEntry e)
    {
        e.Scanout?.Detach();
        e.Scanout = null;
        _exports.Remove(e);
        Outcome("export", "actor-failed");
        EndGrants(e.Owner, e.Refs, e.Id.ToString());
        return Task.CompletedTask;
    }

    private void EndGrants(Frontend f, IEnumerable<uint> refs, string what)
    {
        foreach (var r in refs)
            if (!f.Domain.EndAccess(r))
            {
                f.OpenGrants.Add(r); // retried at quiescence
                _checker.Fail($"op {_op}: {f.Domain.Id} cannot end ref {r} after {what}: the backend still maps it");
            }
    }

    private async Task<ImportEntry?> ImportAsync(Frontend f, bool closeCallerFd = false)
    {
        int fd = _camera.AllocateBuffer(_backend, _s.Pages);
        var (reply, outcome) = await Call(null, () => _client.ImportAsync(f.Domain.Id, fd, _s.Pages)).ConfigureAwait(false);
        Trace($"#{_op} import fd {fd} to {f.Domain.Id} -> {(reply is null ? outcome : reply.Id.ToString())}");
        if (reply is null)
        {
            Outcome("import", outcome);
            _backend.Close(fd);
            return null;
        }
        if (closeCallerFd)
        {
            _backend.Close(fd);
            fd = -1;
        }
        var i = new ImportEntry(f, fd, reply.Id, reply.Refs);
        _imports.Add(i);
        _acked.Add(i.Id, "import");
        return i;
    }

    private void FrontendMap(ImportEntry i)
    {
        foreach (var r in i.Refs.Take(Math.Max(1, i.Refs.Count / 2)))
            i.Handles.Add(i.Owner.Domain.MapForeign(DomainId.Dom0, r));
        Trace($"#{_op} {i.Owner.Domain.Id} maps {i.Handles.Count} refs of {i.Id}");
    }

    private void FrontendUnmap(ImportEntry i)
    {
        if (i.Owner.Alive) foreach (var h in i.Handles) i.Owner.Domain.UnmapForeign(h);
        Trace($"#{_op} {i.Owner.Domain.Id} unmaps {i.Handles.Count} refs of {i.Id}");
        i.Handles.Clear();
        if (!_imports.Contains(i)) _unmapLater.Remove(i);
    }

    private readonly List<ImportEntry> _unmapLater = [];

    private async Task ReleaseImportAsync(ImportEntry i, bool frontendLetsGo)
    {
        if (frontendLetsGo && i.Handles.Count > 0) FrontendUnmap(i);
        var (_, outcome) = await Call(i.Id, () => _client.ReleaseImportAsync(i.Id)).ConfigureAwait(false);
        if (outcome == "ok") _acked.Add(i.Id, "release-import");
        Trace($"#{_op} release-import {i.Id} -> {outcome}{(i.Handles.Count > 0 ? " (frontend still maps: deferred)" : "")}");
        Outcome("import", outcome == "ok" ? "released" : LifecycleFailed(outcome) ? "actor-failed" : outcome);
        _imports.Remove(i);
        if (i.DeviceFd >= 0) _backend.Close(i.DeviceFd);
        if (i.Handles.Count > 0) _unmapLater.Add(i);
    }

    private async Task<MapEntry?> MapAsync(Frontend f)
    {
        int pages = Math.Max(1, _s.Pages / 4);
        uint first = f.Domain.AllocatePages(pages);
        var refs = f.Domain.GrantPages(DomainId.Dom0, first, pages);
        var (reply, outcome) = await Call(null, () => _client.MapAsync(f.Domain.Id, refs, readOnly: _rng.Next(2) == 0)).ConfigureAwait(false);
        Trace($"#{_op} map {f.Domain.Id} {pages}p -> {(reply is null ? outcome : reply.Id.ToString())}");
        if (reply is null)
        {
            Outcome("map", outcome);
            EndGrants(f, refs, "refused map");
            return null;
        }
        var m = new MapEntry(f, refs, reply.Id);
        _maps.Add(m);
        _acked.Add(m.Id, "map");
        return m;
    }

    private async Task UnmapAsync(MapEntry m)
    {
        var (_, outcome) = await Call(m.Id, () => _client.UnmapAsync(m.Id)).ConfigureAwait(false);
        if (outcome == "ok") _acked.Add(m.Id, "unmap");
        Trace($"#{_op} unmap {m.Id} -> {outcome}");
        Outcome("map", outcome == "ok" ? "unmapped" : LifecycleFailed(outcome) ? "actor-failed" : outcome);
        _maps.Remove(m);
        EndGrants(m.Owner, m.Refs, m.Id.ToString());
    }

    private async Task DisconnectAsync(Frontend f)
    {
        Trace($"#{_op} disconnect {f.Domain.Id}");
        foreach (var e in _exports.Where(e => e.Owner == f).ToList()) await ReleaseExportAsync(e).ConfigureAwait(false);
        foreach (var i in _imports.Where(i => i.Owner == f).ToList()) await ReleaseImportAsync(i, frontendLetsGo: true).ConfigureAwait(false);
        foreach (var i in _unmapLater.Where(i => i.Owner == f).ToList()) FrontendUnmap(i);
        foreach (var m in _maps.Where(m => m.Owner == f).ToList()) await UnmapAsync(m).ConfigureAwait(false);
        f.Alive = false;
    }

    /// <summary>The hypervisor destroys a frontend; BufferActors is told; the display stops scanning its buffers out.</summary>
    private async Task<string> CrashAsync(Frontend f)
    {
        _crashes++;
        Trace($"#{_op} crash {f.Domain.Id}");
        using (FaultFree()) // the cleanup runs in several actors at once: keep it off the seeded plan
        {
            _sim.DestroyDomain(f.Domain.Id);
            f.Alive = false;
            f.Crashed = true;
            await _client.DomainDiedAsync(f.Domain.Id).ConfigureAwait(false);
            foreach (var e in _exports.Where(e => e.Owner == f).ToList())
            {
                var wait = _client.WaitReleasedAsync(e.Id, WaitTimeout);
                _checker.TrackWait(e.Id.ToString(), wait);
                e.Scanout?.Detach();
                e.Scanout = null;
                if (e.Recorded) await Call(e.Id, () => _client.DetachAsync(e.Id, Display)).ConfigureAwait(false);
                e.Recorded = false;
            }
            await DrainDomainAsync(f.Domain.Id).ConfigureAwait(false);
            foreach (var e in _exports.Where(e => e.Owner == f).ToList()) { _exports.Remove(e); Outcome("export", "domain-died"); EndGrants(f, e.Refs, e.Id.ToString()); }
            foreach (var i in _imports.Where(i => i.Owner == f).ToList()) { _imports.Remove(i); Outcome("import", "domain-died"); if (i.DeviceFd >= 0) _backend.Close(i.DeviceFd); i.Handles.Clear(); }
            foreach (var i in _unmapLater.Where(i => i.Owner == f).ToList()) { _unmapLater.Remove(i); i.Handles.Clear(); }
            foreach (var m in _maps.Where(m => m.Owner == f).ToList()) { _maps.Remove(m); Outcome("map", "domain-died"); EndGrants(f, m.Refs, m.Id.ToString()); }
            Trace($"#{_op} crash {f.Domain.Id} cleaned up");
            await ReleaseDestroyedDomainAsync(f).ConfigureAwait(false);
        }
        return "crash";
    }

    /// <summary>
    /// The operator releases the destroyed domain's accounting: the answer must count exactly what is still live of it
    /// (only exports the stuck device holds, once the cleanup drained), all of which stays tracked until it ends.
    /// </summary>
    private async Task ReleaseDestroyedDomainAsync(Frontend f)
    {
        var before = await _client.SnapshotAsync().ConfigureAwait(false);
        int live = before.Domains.Where(d => d.Domain == f.Domain.Id).Sum(d => d.Lifecycles.Count);
        var released = await _client.ReleaseDomainAsync(f.Domain.Id).ConfigureAwait(false);
        Trace($"#{_op} operator releases {f.Domain.Id}: {released.Lifecycles} lifecycle(s) still held");
        if (!released.WasDead || released.Lifecycles != live)
            _checker.Fail($"op {_op}: releasing destroyed {f.Domain.Id} answered {released}, with {live} lifecycle(s) of it live");
        var after = await _client.SnapshotAsync().ConfigureAwait(false);
        int tracked = after.Domains.Where(d => d.Domain == f.Domain.Id && d.Released).Sum(d => d.Lifecycles.Count);
        if (tracked != released.Lifecycles && after.LiveLifecycles == before.LiveLifecycles)
            _checker.Fail($"op {_op}: {released.Lifecycles} lifecycle(s) of released {f.Domain.Id} still live, but {tracked} tracked apart");
    }

    /// <summary>Live lifecycles (of <paramref name="domain"/>, or all), except those of exports the stuck device holds.</summary>
    private async Task<int> LiveLifecyclesAsync(DomainId? domain = null)
    {
        var status = await _client.SnapshotAsync().ConfigureAwait(false);
        var held = _held.Select(e => e.Id).ToHashSet();
        return status.Domains.Where(x => domain is not { } d || x.Domain == d).SelectMany(x => x.Lifecycles).Count(id => !held.Contains(id));
    }

    private async Task<int> DrainDomainAsync(DomainId? domain, double seconds = 5)
    {
        var deadline = Stopwatch.StartNew();
        int live;
        while ((live = await LiveLifecyclesAsync(domain).ConfigureAwait(false)) > 0 && deadline.Elapsed.TotalSeconds < seconds)
            await Task.Delay(2).ConfigureAwait(false);
        return live;
    }

    /// <summary>Detach all, release all, frontends unmap, tick the deferred list; returns the lifecycles still live.</summary>
    private async Task<int> LetGoAsync()
    {
        _op = _s.Operations + 1;
        Trace($"#{_op} let go: {_exports.Count} exports, {_imports.Count} imports, {_maps.Count} maps");
        if (_stuck is not null) await StuckDeviceDiesAsync(restart: false).ConfigureAwait(false);
        bool skipped = false;
        foreach (var e in _exports.ToList())
        {
            if (_s.BrokenSkipOneDetach && !skipped && e.Scanout is not null)
            {
                skipped = true; // the deliberately broken step: the display never detaches this one
                Trace($"#{_op} (test hook) {e.Id} stays attached");
                await Call(e.Id, () => _client.ReleaseAsync(e.Id)).ConfigureAwait(false);
                _checker.TrackWait(e.Id.ToString(), _client.WaitReleasedAsync(e.Id, TimeSpan.FromMilliseconds(200)));
                _exports.Remove(e);
                continue;
            }
            await ReleaseExportAsync(e).ConfigureAwait(false);
        }
        foreach (var i in _imports.ToList()) await ReleaseImportAsync(i, frontendLetsGo: true).ConfigureAwait(false);
        foreach (var i in _unmapLater.ToList()) FrontendUnmap(i);
        foreach (var m in _maps.ToList()) await UnmapAsync(m).ConfigureAwait(false);
        for (int t = 0; t < 1000 && _sim.Ledger().DeferredRefs > 0; t++) _sim.Tick();
        foreach (var f in _frontends)
        {
            foreach (var r in f.OpenGrants.ToList())
                if (f.Domain.EndAccess(r)) f.OpenGrants.Remove(r);
        }
        int live = await DrainDomainAsync(null, _s.BrokenSkipOneDetach ? 0.5 : 5).ConfigureAwait(false);
        _session!.ReapParkedNumbers(); // numbers of exports whose lifecycle ended while the display held them
        _session.ReapEndedAccess(); // imports whose grants were deferred until the frontends unmapped, which they now did
        return live;
    }
}
