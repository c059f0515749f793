using BufferActors.Actors.Persistence;
using BufferActors.Native.Simulation;

namespace BufferActors.Host.Simulate;

/// <summary>The workload shapes of <c>simulate</c>.</summary>
internal enum SimulationScenario
{
    /// <summary>Frontends share framebuffers, a display attaches and flips, frontends come and go.</summary>
    Display,
    /// <summary>A camera allocates buffers; they are imported and granted to frontends, which map them.</summary>
    Camera,
    /// <summary>Many short lifecycles of every kind.</summary>
    Churn,
    /// <summary>
    /// Buffers closed and re-created as fast as possible, so fd numbers come back at once: imports whose
    /// caller closes its fd right after importing, exports released and re-exported, across frontends.
    /// </summary>
    FdChurn,
    /// <summary>
    /// A device that never lets go of a share of the buffers it is given: their releases are quarantined, the domain's
    /// cap refuses its new exports once it is reached, and now and then the device's process dies and lets go of them.
    /// </summary>
    StuckDevice,
}

/// <summary>The command-line names of <see cref="SimulationScenario"/>.</summary>
internal static class SimulationScenarioNames
{
    /// <summary>display, camera, churn, fd-churn, stuck-device.</summary>
    public static string Name(this SimulationScenario scenario) => scenario switch
    {
        SimulationScenario.FdChurn => "fd-churn",
        SimulationScenario.StuckDevice => "stuck-device",
        _ => scenario.ToString().ToLowerInvariant(),
    };

    /// <summary>The scenario named <paramref name="name"/> on the command line.</summary>
    public static SimulationScenario Parse(string name) => Enum.Parse<SimulationScenario>(name.Replace("-", "", StringComparison.Ordinal), ignoreCase: true);
}

/// <summary>Everything a simulation run depends on; the same settings give the same operations and faults.</summary>
internal sealed record SimulationSettings
{
    public SimulationScenario Scenario { get; init; } = SimulationScenario.Display;
    public int Domains { get; init; } = 2;
    public int Buffers { get; init; } = 3;
    public int Pages { get; init; } = 64;
    public int Operations { get; init; } = 200;
    public double FaultRate { get; init; } = 0.05;
    public int Seed { get; init; } = 1;
    public JournalStorage? Journal { get; init; }
    public string JournalText { get; init; } = "none";

    /// <summary>Run the actors on the inline dispatcher (<c>BufferActorsOptions.InlineDispatch</c>, the default); false: the thread pool.</summary>
    public bool InlineDispatch { get; init; } = true;

    /// <summary>
    /// Also throw in WaitReleased handlers. Off by default: whether a wait reaches its lifecycle or is answered
    /// by the supervisor after the lifecycle retired is a race, which would make the seeded fault sequence
    /// depend on timing. (A throwing WaitReleased handler is still answered, by PostStop: SupervisionTests.)
    /// </summary>
    public bool ActorFaultsInWaitReleased { get; init; }

    /// <summary>Test hook: the let-go phase leaves the first device attachment attached (proves the checker fails).</summary>
    public bool BrokenSkipOneDetach { get; init; }

    /// <summary>Test hook: stuck-device's actors get a cap on quarantined exports one above what the driver checks (proves the checker fails).</summary>
    public bool BrokenQuarantineCap { get; init; }

    /// <summary>Every fault probability this run derives from <see cref="FaultRate"/> (docs/fault-model.md).</summary>
    public string FaultKnobs()
    {
        string P(double v) => v.ToString("0.####", System.Globalization.CultureInfo.InvariantCulture);
        return $"fault rate {P(FaultRate)}: simulator calls {P(FaultRate)}, one page per map {P(FaultRate)}, domain crash {P(FaultRate / 2)} per step, " +
            $"actor exception {P(FaultRate / 2)} per handler{(ActorFaultsInWaitReleased ? "" : " (not in WaitReleased)")}, " +
            (Journal is null ? "no journal writes" : $"journal write {P(FaultRate / 4)} per write (1 in 4 a storage failure)");
    }

    /// <summary>The command line that reproduces this run.</summary>
    public string CommandLine(int? operations = null) =>
        $"bufferactors simulate --scenario {Scenario.Name()} --domains {Domains} --buffers {Buffers} --pages {Pages} " +
        $"--operations {operations ?? Operations} --fault-rate {FaultRate.ToString(System.Globalization.CultureInfo.InvariantCulture)} --seed {Seed} --journal {JournalText}{(InlineDispatch ? "" : " --dispatcher thread-pool")}";
}

/// <summary>Ledger counters relative to the baseline taken once the host was up (all zero = nothing leaked).</summary>
internal sealed record LedgerDelta(int Maps, int Grants, int MappedGrants, int DmaBufs, int Attachments, int Fds, int Exports, int Imports,
    long ReservationPages, int DeferredRefs)
{
    public static LedgerDelta Of(SimulatorLedger now, SimulatorLedger baseline) => new(
        now.Maps - baseline.Maps, now.GrantedRefs - baseline.GrantedRefs, now.MappedGrants - baseline.MappedGrants,
        now.DmaBufs - baseline.DmaBufs, now.Attachments - baseline.Attachments, now.OpenFds - baseline.OpenFds,
        now.Exports - baseline.Exports, now.Imports - baseline.Imports, now.ReservationPages - baseline.ReservationPages,
        now.DeferredRefs - baseline.DeferredRefs);

    public bool IsZero => this == new LedgerDelta(0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
}

/// <summary>What one run did and found.</summary>
internal sealed record SimulationResult(
    SimulationSettings Settings,
    int Operations,
    IReadOnlyDictionary<string, int> OperationsByKind,
    int FaultsInjected,
    IReadOnlyDictionary<string, int> FaultsBySite,
    int ActorFaults,
    int DomainCrashes,
    IReadOnlyDictionary<string, int> LifecyclesByOutcome,
    IReadOnlyList<string> Violations,
    LedgerDelta Ledger,
    IReadOnlyList<string> Trace,
    double ElapsedMs)
{
    public bool Passed => Violations.Count == 0 && Ledger.IsZero;
}
