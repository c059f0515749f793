namespace BufferActors.Native.Simulation;

/// <summary>
/// Everything the simulated kernel and hypervisor hold on behalf of gntdev users, counted. A test
/// takes one at the start and checks <see cref="DifferencesFrom"/> is empty at the end.
/// </summary>
/// <param name="Maps">Live gntdev maps (MAP_GRANT_REF maps and the maps behind exports).</param>
/// <param name="MappedGrants">Grant entries currently mapped by their grantee (GTF_reading/writing set), all domains.</param>
/// <param name="GrantedRefs">Grant entries granting access, all domains.</param>
/// <param name="DmaBufs">Live dma-bufs.</param>
/// <param name="Attachments">Live dma-buf attachments (devices and imports).</param>
/// <param name="OpenFds">Open descriptors in all simulated processes.</param>
/// <param name="Exports">Live exports.</param>
/// <param name="Imports">Live imports.</param>
/// <param name="ReservationPages">Sum over domains of (reservation − baseline), in pages.</param>
/// <param name="DeferredRefs">End-access operations parked because the remote still maps the ref.</param>
/// <param name="OldestDeferredTicks">Age, in simulator ticks, of the oldest deferred end-access (0 if none).</param>
/// <param name="ReservationByDomain">Non-zero reservation deltas by domain, e.g. "d0:-8".</param>
public sealed record SimulatorLedger(
    int Maps,
    int MappedGrants,
    int GrantedRefs,
    int DmaBufs,
    int Attachments,
    int OpenFds,
    int Exports,
    int Imports,
    long ReservationPages,
    int DeferredRefs,
    long OldestDeferredTicks,
    string ReservationByDomain)
{
    /// <summary>Each counter that differs from <paramref name="baseline"/>, as "name: baseline → now".</summary>
    public IReadOnlyList<string> DifferencesFrom(SimulatorLedger baseline)
    {
        var diffs = new List<string>();
        void Compare<T>(string name, T now, T then) where T : IEquatable<T>
        {
            if (!now.Equals(then)) diffs.Add($"{name}: {then} -> {now}");
        }
        Compare(nameof(Maps), Maps, baseline.Maps);
        Compare(nameof(MappedGrants), MappedGrants, baseline.MappedGrants);
        Compare(nameof(GrantedRefs), GrantedRefs, baseline.GrantedRefs);
        Compare(nameof(DmaBufs), DmaBufs, baseline.DmaBufs);
        Compare(nameof(Attachments), Attachments, baseline.Attachments);
        Compare(nameof(OpenFds), OpenFds, baseline.OpenFds);
        Compare(nameof(Exports), Exports, baseline.Exports);
        Compare(nameof(Imports), Imports, baseline.Imports);
        Compare(nameof(ReservationByDomain), ReservationByDomain, baseline.ReservationByDomain);
        Compare(nameof(DeferredRefs), DeferredRefs, baseline.DeferredRefs);
        return diffs;
    }

    /// <summary>True when nothing differs from <paramref name="baseline"/>.</summary>
    public bool IsAtBaseline(SimulatorLedger baseline) => DifferencesFrom(baseline).Count == 0;
}

/// <summary>A grant whose end-access is parked because the grantee still maps it.</summary>
/// <param name="Granter">The granting domain.</param>
/// <param name="Ref">The grant reference.</param>
/// <param name="Grantee">The domain still mapping it.</param>
/// <param name="Attempts">Retries so far.</param>
/// <param name="AgeTicks">Ticks since it was parked.</param>
/// <param name="ReportedPending">True once retried <see cref="SimulatorOptions.DeferredReportAfter"/> times (it is still retried).</param>
public sealed record DeferredEndAccess(DomainId Granter, uint Ref, DomainId Grantee, int Attempts, long AgeTicks, bool ReportedPending);
