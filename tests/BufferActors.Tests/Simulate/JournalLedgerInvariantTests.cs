using BufferActors.Actors;
using BufferActors.Actors.Persistence;
using BufferActors.Actors.Persistence.Replay;
using BufferActors.Host.Simulate;
using BufferActors.Native;
using BufferActors.Native.Simulation;

namespace BufferActors.Tests.Simulate;

/// <summary>
/// The journal-vs-ledger invariant of <c>simulate --journal</c> on hand-built journals: it fails exactly when
/// the live set replayed from the journal differs from the ledger's, kind by kind, or the replay shows an anomaly.
/// </summary>
public sealed class JournalLedgerInvariantTests : IDisposable
{
    private static readonly DateTimeOffset T0 = new(2026, 1, 1, 12, 0, 0, TimeSpan.Zero);
    private static readonly LifecycleId Export1 = new(LifecycleKind.Export, new DomainId(1), 1);
    private static readonly LifecycleId Map2 = new(LifecycleKind.Map, new DomainId(1), 2);
    private static readonly LedgerDelta Zero = new(0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
    private readonly XenSimulator _sim = new(new SimulatorOptions { Seed = 1 });

    private static JournalTimeline Journal(params LifecycleEvent[] events) =>
        JournalTimeline.Build(events.Select((e, i) => new JournalEntry(i + 1, e)));

    // An export stopped after a fault, as journaled before every end was: its release requested, nothing after.
    private static readonly LifecycleEvent[] StuckReleasing =
    [
        new ExportRequested(Export1, T0, [8, 9], DmaBufFlags.None),
        new Exported(Export1, T0, 4, 2, Guid.Empty),
        new ReleaseRequested(Export1, T0),
    ];

    [Fact]
    public void AnExportLiveInTheJournalButGoneFromTheKernel_IsAViolation()
    {
        var checker = new InvariantChecker(_sim);
        checker.JournalAgreesWithLedger(Journal(StuckReleasing), Zero);
        Assert.Contains(checker.Violations, v => v.Contains("1 Export lifecycle(s) live in the journal") && v.Contains("0 in the ledger"));
    }

    [Fact]
    public void AnExportLiveInBoth_Agrees()
    {
        var checker = new InvariantChecker(_sim);
        checker.JournalAgreesWithLedger(Journal(StuckReleasing), Zero with { Exports = 1 });
        Assert.Empty(checker.Violations);
    }

    [Fact]
    public void AMapTheLedgerStillHasButTheJournalEnded_IsAViolation()
    {
        var checker = new InvariantChecker(_sim);
        checker.JournalAgreesWithLedger(Journal(
            new MapRequested(Map2, T0, [8], false), new Mapped(Map2, T0, 0, Guid.Empty), new Unmapped(Map2, T0)), Zero with { Maps = 1 });
        Assert.Contains(checker.Violations, v => v.Contains("0 Map lifecycle(s) live in the journal") && v.Contains("1 in the ledger"));
    }

    [Fact]
    public void AReplayAnomalyOfAFinishedLifecycle_IsAViolation()
    {
        var checker = new InvariantChecker(_sim);
        checker.JournalAgreesWithLedger(Journal(
        [
            .. StuckReleasing,
            new WaitRequested(Export1, T0, 0, TimeSpan.FromSeconds(1)),
            new Released(Export1, T0),
        ]), Zero);
        Assert.Contains(checker.Violations, v => v.Contains(nameof(AnomalyKind.WaitNeverAnswered)));
    }

    // An import released with one ref the frontend still maps: live in the journal, no import in the ledger.
    private static readonly LifecycleId Import3 = new(LifecycleKind.Import, new DomainId(1), 3);
    private static readonly LifecycleEvent[] Deferred =
    [
        new ImportRequested(Import3, T0, 5, 2),
        new Granted(Import3, T0, [20, 21], Guid.Empty),
        new ReleaseRequested(Import3, T0),
        new AccessDeferred(Import3, T0, [21]),
    ];

    [Fact]
    public void AnImportWithDeferredRefs_StandsForTheLedgersDeferredRefs_NotForAnImport()
    {
        var agrees = new InvariantChecker(_sim);
        agrees.JournalAgreesWithLedger(Journal(Deferred), Zero with { DeferredRefs = 1 });
        Assert.Empty(agrees.Violations);

        var forgotten = new InvariantChecker(_sim); // the kernel ended them, the journal still shows them deferred
        forgotten.JournalAgreesWithLedger(Journal(Deferred), Zero);
        Assert.Contains(forgotten.Violations, v => v.Contains("1 import(s) with deferred grants live in the journal") && v.Contains("0 deferred ref(s)"));

        var unrecorded = new InvariantChecker(_sim); // the kernel deferred refs the journal says ended
        unrecorded.JournalAgreesWithLedger(Journal([.. Deferred, new AccessEnded(Import3, T0)]), Zero with { DeferredRefs = 1 });
        Assert.Contains(unrecorded.Violations, v => v.Contains("0 import(s) with deferred grants") && v.Contains("1 deferred ref(s)"));
    }

    public void Dispose() => _sim.Dispose();
}
