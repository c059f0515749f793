using BufferActors.Actors;
using BufferActors.Actors.Lifecycles;
using BufferActors.Actors.Persistence.Replay;
using BufferActors.Native;
using BufferActors.Native.Simulation;

namespace BufferActors.Host.Simulate;

/// <summary>
/// Watches a simulation run and records every broken invariant as a string: after each operation the
/// simulator saw no violation (no dma-buf released while attached, no device page freed while
/// granted), and every export the device still has attached keeps its frontend refs mapped (no unmap
/// while attached); every zero-copy read sees what the frontend wrote; every WaitReleased completes
/// exactly once with a result; at quiescence every lifecycle has ended and the ledger (maps, grants,
/// dma-bufs, attachments, fds, exports, imports, reservation, deferred refs) is back at its baseline.
/// </summary>
internal sealed class InvariantChecker(XenSimulator sim)
{
    private readonly List<string> _violations = [];
    private readonly List<(string What, Task<WaitReleasedResult> Task)> _waits = [];
    private int _simViolationsSeen;

    public IReadOnlyList<string> Violations => _violations;

    public void Fail(string violation) => _violations.Add(violation);

    /// <summary>Checks after operation <paramref name="op"/>; <paramref name="attached"/> are the exports a device has attached.</summary>
    public void AfterOperation(int op, IEnumerable<(LifecycleId Id, SimulatedDomain Domain, uint[] Refs)> attached)
    {
        var simViolations = sim.Violations;
        for (; _simViolationsSeen < simViolations.Count; _simViolationsSeen++)
            Fail($"op {op}: simulator: {simViolations[_simViolationsSeen]}");
        foreach (var (id, domain, refs) in attached)
        {
            var unmapped = refs.FirstOrDefault(r => !domain.IsInUse(r), uint.MaxValue);
            if (unmapped != uint.MaxValue)
                Fail($"op {op}: {id} is attached by a device but {domain.Id} ref {unmapped} is no longer mapped (unmapped while attached)");
        }
    }

    /// <summary>
    /// Every import whose release was not asked for still grants its pages: a release keyed by a number
    /// that another import reused would end this one's grants early.
    /// </summary>
    public void ImportsStillGranted(int op, IEnumerable<(LifecycleId Id, IReadOnlyList<uint> Refs)> live)
    {
        foreach (var (id, refs) in live)
        {
            var ended = refs.FirstOrDefault(r => !sim.Backend.IsGranted(r), uint.MaxValue);
            if (ended != uint.MaxValue) Fail($"op {op}: {id} was never released, but dom0 ref {ended} no longer grants its page (ended early)");
        }
    }

    /// <summary>
    /// The journal tells the truth: at quiescence the live set replayed from it equals the ledger's live set,
    /// kind by kind (exports, imports, maps), and its replay shows no anomaly (a lifecycle live in the journal but
    /// gone from the kernel would be adopted by recovery as an object that no longer exists).
    /// </summary>
    public void JournalAgreesWithLedger(JournalTimeline timeline, LedgerDelta ledger)
    {
        // A released import whose refs the kernel deferred is live in the journal but no import in the ledger:
        // it stands for the ledger's deferred refs.
        var deferred = timeline.Lifecycles.Where(l => !l.IsFinished && l.State == ImportState.Deferred).Select(l => l.Id).ToHashSet();
        if ((deferred.Count > 0) != (ledger.DeferredRefs > 0))
            Fail($"journal: {deferred.Count} import(s) with deferred grants live in the journal ({string.Join(", ", deferred.Take(5))}), {ledger.DeferredRefs} deferred ref(s) in the ledger at quiescence");
        var live = timeline.Live.Where(id => !deferred.Contains(id)).GroupBy(id => id.Kind).ToDictionary(g => g.Key, g => g.ToList());
        foreach (var (kind, inLedger) in new[] { (LifecycleKind.Export, ledger.Exports), (LifecycleKind.Import, ledger.Imports), (LifecycleKind.Map, ledger.Maps) })
        {
            var inJournal = live.GetValueOrDefault(kind) ?? [];
            if (inJournal.Count != inLedger)
                Fail($"journal: {inJournal.Count} {kind} lifecycle(s) live in the journal ({string.Join(", ", inJournal.Take(5))}), {inLedger} in the ledger at quiescence");
        }
        // NeverFinished is the live set itself, compared above, and so are the never-ended refs of a live import.
        var liveIds = timeline.Live.ToHashSet();
        foreach (var a in timeline.Anomalies.Where(a => a.Kind != AnomalyKind.NeverFinished && !(a.Kind == AnomalyKind.RefsNeverEnded && liveIds.Contains(a.Lifecycle))))
            Fail($"journal: replay anomaly {a.Kind}: {a.Message}");
    }

    /// <summary>A WaitReleased the driver issued: it must complete exactly once, with a result.</summary>
    public void TrackWait(string what, Task<WaitReleasedResult> task) => _waits.Add((what, task));

    /// <summary>The checks at quiescence, after the driver let go of everything and ticked the deferred list.</summary>
    public async Task AtQuiescenceAsync(LedgerDelta ledger, int liveLifecycles)
    {
        foreach (var (what, task) in _waits)
        {
            try
            {
                await task.WaitAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
                Fail($"quiescence: WaitReleased for {what} was never answered");
            }
            catch (Exception e) // whatever else the wait ended with is the violation itself: reported, never thrown
            {
                Fail($"quiescence: WaitReleased for {what} ended without a result: {e.GetType().Name}: {e.Message}");
            }
        }
        if (liveLifecycles != 0) Fail($"quiescence: {liveLifecycles} lifecycle(s) still live after letting go");
        var simViolations = sim.Violations;
        for (; _simViolationsSeen < simViolations.Count; _simViolationsSeen++)
            Fail($"quiescence: simulator: {simViolations[_simViolationsSeen]}");
        if (!ledger.IsZero) Fail($"quiescence: ledger not at baseline: {ledger}");
    }
}
