using BufferActors.Native;
using BufferActors.Native.Simulation;

namespace BufferActors.Tests.Simulation;

/// <summary>Fault injection: every kind of fault leaves nothing behind, and a seed reproduces a run.</summary>
public sealed class FaultPlanTests : SimulatorTest
{
    [Fact]
    public void KillingTheFrontendBetweenTwoStepsOfAnExportFailsItCleanly()
    {
        var refs = Share(4);
        Sim.Faults = new FaultPlan().KillDomainAt(FaultSite.ExportFromRefs, Dom1);
        var e = Fails(Errno.EINVAL, () => Gntdev.ExportDmaBuf(DmaBufFlags.Coherent, Dom1, refs));
        Assert.Equal(GrantStatus.BadDomain, e.GrantStatus);
        Assert.False(Frontend.IsAlive);
        AssertLedgerAtBaseline();
    }

    [Fact]
    public void KeepRemoteMappingMakesTheFrontendMapWhatItIsGranted()
    {
        Sim.Faults = new FaultPlan().KeepRemoteMapping(Dom1);
        int fd = Display.AllocateBuffer(Process, 2);
        var import = Gntdev.ImportDmaBuf(fd, 2, Dom1);
        Assert.Equal(2, Frontend.ForeignMappings);
        Gntdev.ReleaseImport(fd);
        Assert.Equal(2, Sim.Ledger().DeferredRefs);
        Sim.UnmapAllForeign(Dom1);
        Sim.Tick();
        Gntdev.CloseFd(fd);
        Assert.NotNull(import);
        AssertLedgerAtBaseline();
    }

    [Fact]
    public void FailAtCountsOccurrencesPerSite()
    {
        var refs = Share(1);
        Sim.Faults = new FaultPlan().FailAt(FaultSite.ExportFromRefs, Errno.ENOMEM, occurrence: 2, times: 2);
        var ok = Gntdev.ExportDmaBuf(DmaBufFlags.None, Dom1, refs);
        Gntdev.CloseFd(ok.Fd);
        Fails(Errno.ENOMEM, () => Gntdev.ExportDmaBuf(DmaBufFlags.None, Dom1, refs));
        Fails(Errno.ENOMEM, () => Gntdev.ExportDmaBuf(DmaBufFlags.None, Dom1, refs));
        Gntdev.CloseFd(Gntdev.ExportDmaBuf(DmaBufFlags.None, Dom1, refs).Fd);
        Assert.Equal(2, Sim.Faults.Injected.Count);
        AssertLedgerAtBaseline();
    }

    [Theory]
    [InlineData(1)]
    [InlineData(7)]
    [InlineData(1234)]
    public void TheSameSeedInjectsTheSameFaults_AndEveryRunEndsAtBaseline(int seed)
    {
        var first = RandomWorkload(seed);
        var second = RandomWorkload(seed);
        Assert.Equal(first, second);
        Assert.Contains("fault", first);
    }

    /// <summary>A fixed workload under seeded random faults; returns its trace.</summary>
    private static string RandomWorkload(int seed)
    {
        using var sim = new XenSimulator(new SimulatorOptions { Seed = seed }, new FaultPlan(seed).WithRandomFaults(0.15));
        var baseline = sim.Ledger();
        var trace = new List<string>();
        var front = sim.CreateDomain(1);
        var process = sim.StartProcess("backend");
        var dev = sim.OpenGrantDevice(process);
        var display = sim.AddDevice("display");
        var grants = new List<uint>();
        for (int i = 0; i < 30; i++)
        {
            try
            {
                var refs = front.GrantPages(DomainId.Dom0, front.AllocatePages(3), 3);
                grants.AddRange(refs);
                var export = dev.ExportDmaBuf(i % 2 == 0 ? DmaBufFlags.WriteCombine : DmaBufFlags.None, new DomainId(1), refs);
                trace.Add($"export {export.Fd}");
                try
                {
                    var att = display.Attach(process, export.Fd);
                    try { att.Map(DmaDirection.ToDevice); trace.Add("mapped"); }
                    finally { att.Detach(); }
                }
                finally { dev.CloseFd(export.Fd); }
                int buf = display.AllocateBuffer(process, 2);
                try
                {
                    dev.ImportDmaBuf(buf, 2, new DomainId(1));
                    dev.ReleaseImport(buf);
                    trace.Add("imported");
                }
                finally { dev.CloseFd(buf); }
            }
            catch (GntdevException e)
            {
                trace.Add($"fault {e.Operation} {e.Errno} {e.GrantStatus}");
            }
        }
        dev.Dispose();
        foreach (var r in grants) Assert.True(front.EndAccess(r));
        Assert.Empty(sim.Violations);
        Assert.Empty(sim.Ledger().DifferencesFrom(baseline));
        return string.Join("\n", trace.Concat(sim.Faults.Injected.Select(f => f.ToString())));
    }
}
