using BufferActors.Native;
using BufferActors.Native.Simulation;

namespace BufferActors.Tests.Simulation;

/// <summary>Spec: "Export: EXP_FROM_REFS(flags, count, domid, refs) -> fd", rules 1-5.</summary>
public sealed class ExportRulesTests : SimulatorTest
{
    [Fact]
    public void Rule1_ExportIsRefusedInPteModificationMode()
    {
        using var sim = new XenSimulator(new SimulatorOptions { PteModificationMode = true });
        var baseline = sim.Ledger();
        var front = sim.CreateDomain(1);
        var refs = front.GrantPages(DomainId.Dom0, front.AllocatePages(2), 2);
        using (var dev = sim.OpenGrantDevice())
            Fails(Errno.EINVAL, () => dev.ExportDmaBuf(DmaBufFlags.None, Dom1, refs));
        foreach (var r in refs) Assert.True(front.EndAccess(r));
        Assert.Empty(sim.Ledger().DifferencesFrom(baseline));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(17)]
    public void Rule2_CountOfZeroOrAboveTheDeviceLimitIsEinval(int count)
    {
        using var sim = new XenSimulator(new SimulatorOptions { PageLimit = 16 });
        var baseline = sim.Ledger();
        var front = sim.CreateDomain(1);
        var refs = count == 0 ? [] : front.GrantPages(DomainId.Dom0, front.AllocatePages(count), count);
        using (var dev = sim.OpenGrantDevice())
        {
            Fails(Errno.EINVAL, () => dev.ExportDmaBuf(DmaBufFlags.None, Dom1, refs));
            Assert.Equal(0, front.Grants.InUse);
        }
        foreach (var r in refs) Assert.True(front.EndAccess(r));
        Assert.Empty(sim.Ledger().DifferencesFrom(baseline));
    }

    [Fact]
    public void Rule2_CountAtTheLimitIsAccepted()
    {
        using var sim = new XenSimulator(new SimulatorOptions { PageLimit = 16 });
        var baseline = sim.Ledger();
        var front = sim.CreateDomain(1);
        var refs = front.GrantPages(DomainId.Dom0, front.AllocatePages(16), 16);
        using (var dev = sim.OpenGrantDevice())
        {
            var export = dev.ExportDmaBuf(DmaBufFlags.None, Dom1, refs);
            Assert.Equal(16, export.PageCount);
            dev.CloseFd(export.Fd);
        }
        foreach (var r in refs) Assert.True(front.EndAccess(r));
        Assert.Empty(sim.Ledger().DifferencesFrom(baseline));
    }

    [Fact]
    public void Rule3_BothDmaFlagsAreEinval()
    {
        var refs = Share(4);
        Fails(Errno.EINVAL, () => Gntdev.ExportDmaBuf(DmaBufFlags.WriteCombine | DmaBufFlags.Coherent, Dom1, refs));
        Assert.Equal(Sim.Backend.BaselineReservation, Sim.Backend.Reservation);
        AssertLedgerAtBaseline();
    }

    [Theory]
    [InlineData(DmaBufFlags.WriteCombine)]
    [InlineData(DmaBufFlags.Coherent)]
    public void Rule3_DmaBackedExportLowersReservationByCountUntilReleased(DmaBufFlags flags)
    {
        var refs = Share(8);
        var export = Gntdev.ExportDmaBuf(flags, Dom1, refs);
        Assert.Equal(Sim.Backend.BaselineReservation - 8, Sim.Backend.Reservation);
        Assert.Equal("d0:-8", Sim.Ledger().ReservationByDomain);
        Gntdev.CloseFd(export.Fd);
        Assert.Equal(Sim.Backend.BaselineReservation, Sim.Backend.Reservation);
        AssertLedgerAtBaseline();
    }

    [Fact]
    public void Rule3_PlainExportLeavesReservationAlone()
    {
        var export = Gntdev.ExportDmaBuf(DmaBufFlags.None, Dom1, Share(8));
        Assert.Equal(0, Sim.Ledger().ReservationPages);
        Gntdev.CloseFd(export.Fd);
        AssertLedgerAtBaseline();
    }

    [Fact]
    public void Rule3_FlagBitsOtherThanTheTwoDmaFlagsAreIgnored()
    {
        var export = Gntdev.ExportDmaBuf((DmaBufFlags)4, Dom1, Share(3));
        Assert.Equal(0, Sim.Ledger().ReservationPages);
        Gntdev.CloseFd(export.Fd);
        AssertLedgerAtBaseline();
    }

    [Fact]
    public void Rule3_FailedReservationDecreaseFailsTheExportAndLeaksNothing()
    {
        var refs = Share(8);
        Sim.Faults = new FaultPlan().FailAt(FaultSite.ReservationDecrease, Errno.ENOMEM);
        Fails(Errno.ENOMEM, () => Gntdev.ExportDmaBuf(DmaBufFlags.WriteCombine, Dom1, refs));
        Assert.Equal(0, Frontend.Grants.InUse);
        AssertLedgerAtBaseline();
    }

    [Fact]
    public void Rule3_ADmaExportBeyondTheReservationIsEnomem_TheReservationNeverGoesNegative()
    {
        using var sim = new XenSimulator(new SimulatorOptions { BackendDomainPages = 6 });
        var baseline = sim.Ledger();
        var front = sim.CreateDomain(1);
        using var gntdev = sim.OpenGrantDevice();
        var refs = front.GrantPages(DomainId.Dom0, front.AllocatePages(8), 8);
        var four = gntdev.ExportDmaBuf(DmaBufFlags.Coherent, Dom1, refs[..4]);
        Assert.Equal(2, sim.Backend.Reservation);
        var e = Assert.Throws<GntdevException>(() => gntdev.ExportDmaBuf(DmaBufFlags.WriteCombine, Dom1, refs[4..]));
        Assert.Equal(Errno.ENOMEM, e.Errno);
        Assert.Equal(2, sim.Backend.Reservation); // nothing changed
        Assert.All(refs[4..], r => Assert.False(front.IsInUse(r)));
        gntdev.CloseFd(four.Fd);
        Assert.Equal(6, sim.Backend.Reservation);
        foreach (var r in refs) Assert.True(front.EndAccess(r));
        gntdev.Dispose();
        Assert.Empty(sim.Ledger().DifferencesFrom(baseline));
    }

    [Fact]
    public void Rule4_EveryGrantIsMappedWhileExported()
    {
        var refs = Share(5);
        var export = Gntdev.ExportDmaBuf(DmaBufFlags.None, Dom1, refs);
        Assert.All(refs, r => Assert.True(Frontend.IsInUse(r)));
        Assert.False(Frontend.EndAccess(refs[0]), "a mapped grant cannot be ended");
        Gntdev.CloseFd(export.Fd);
        AssertLedgerAtBaseline();
    }

    [Theory]
    [InlineData(0)]
    [InlineData(3)]
    [InlineData(7)]
    public void Rule4_PartialMapFailureUnmapsExactlyTheMappedPagesAndRestoresReservation(int failingPage)
    {
        var refs = Share(8);
        Sim.Faults = new FaultPlan().FailMapAtPage(failingPage, GrantStatus.NoDeviceSpace);
        var e = Fails(Errno.EINVAL, () => Gntdev.ExportDmaBuf(DmaBufFlags.Coherent, Dom1, refs));
        Assert.Equal(GrantStatus.NoDeviceSpace, e.GrantStatus);
        Assert.Equal(failingPage, e.FailedPage);
        Assert.Equal(0, Frontend.Grants.InUse);
        Assert.Equal(Sim.Backend.BaselineReservation, Sim.Backend.Reservation);
        Assert.Equal(0, Gntdev.ExportCount);
        AssertLedgerAtBaseline();
    }

    [Fact]
    public void Rule4_RevokedRefFailsWithBadGntrefAndItsPageIndex()
    {
        var refs = Share(4);
        Revoke(refs[2]);
        var e = Fails(Errno.EINVAL, () => Gntdev.ExportDmaBuf(DmaBufFlags.None, Dom1, refs));
        Assert.Equal(GrantStatus.BadGntref, e.GrantStatus);
        Assert.Equal(2, e.FailedPage);
        Assert.Equal(0, Frontend.Grants.InUse);
        AssertLedgerAtBaseline();
    }

    [Fact]
    public void Rule4_ReadOnlyGrantCannotBeExportedWritable()
    {
        var refs = Share(2, readOnly: true);
        var e = Fails(Errno.EINVAL, () => Gntdev.ExportDmaBuf(DmaBufFlags.None, Dom1, refs));
        Assert.Equal(GrantStatus.GeneralError, e.GrantStatus);
        AssertLedgerAtBaseline();
    }

    [Fact]
    public void Rule4_RefGrantedToAnotherDomainIsRefused()
    {
        var other = Sim.CreateDomain(2);
        var gref = Frontend.GrantAccess(other.Id, Frontend.AllocatePages(1));
        var e = Fails(Errno.EINVAL, () => Gntdev.ExportDmaBuf(DmaBufFlags.None, Dom1, [gref]));
        Assert.Equal(GrantStatus.GeneralError, e.GrantStatus);
        Assert.True(Frontend.EndAccess(gref));
        AssertLedgerAtBaseline();
    }

    [Fact]
    public void Rule4_DeadOrUnknownDomainIsBadDomain()
    {
        var refs = Share(2);
        Sim.DestroyDomain(Dom1);
        Assert.Equal(GrantStatus.BadDomain, Fails(Errno.EINVAL, () => Gntdev.ExportDmaBuf(DmaBufFlags.None, Dom1, refs)).GrantStatus);
        Assert.Equal(GrantStatus.BadDomain, Fails(Errno.EINVAL, () => Gntdev.ExportDmaBuf(DmaBufFlags.None, new DomainId(9), refs)).GrantStatus);
        AssertLedgerAtBaseline();
    }

    [Fact]
    public void Rule4_ReservedDomainIdIsEinvalBeforeAnyMap()
    {
        var refs = Share(2);
        var e = Fails(Errno.EINVAL, () => Gntdev.ExportDmaBuf(DmaBufFlags.None, new DomainId(DomainId.FirstReserved), refs));
        Assert.Null(e.GrantStatus);
        AssertLedgerAtBaseline();
    }

    [Fact]
    public void Rule4_TransientEagainIsRetried()
    {
        var refs = Share(4);
        Sim.Faults = new FaultPlan().FailMapAtPage(1, GrantStatus.Eagain, times: 3);
        var export = Gntdev.ExportDmaBuf(DmaBufFlags.None, Dom1, refs);
        Assert.Equal(3, Sim.Faults.Injected.Count);
        Gntdev.CloseFd(export.Fd);
        AssertLedgerAtBaseline();
    }

    [Fact]
    public void Rule4_PersistentEagainEndsAsBadPage()
    {
        var refs = Share(4);
        Sim.Faults = new FaultPlan().FailMapAtPage(1, GrantStatus.Eagain, times: 1000);
        Assert.Equal(GrantStatus.BadPage, Fails(Errno.EINVAL, () => Gntdev.ExportDmaBuf(DmaBufFlags.None, Dom1, refs)).GrantStatus);
        AssertLedgerAtBaseline();
    }

    [Fact]
    public void Rule4_DmaBufCreationFailureUnwindsMapAndReservation()
    {
        var refs = Share(4);
        Sim.Faults = new FaultPlan().FailAt(FaultSite.DmaBufCreate, Errno.ENOMEM);
        Fails(Errno.ENOMEM, () => Gntdev.ExportDmaBuf(DmaBufFlags.WriteCombine, Dom1, refs));
        AssertLedgerAtBaseline();
    }

    [Fact]
    public void Rule5_ExportFdIsTheLowestFreeNumberAndIsReusedAfterClose()
    {
        var a = Gntdev.ExportDmaBuf(DmaBufFlags.None, Dom1, Share(1));
        var b = Gntdev.ExportDmaBuf(DmaBufFlags.None, Dom1, Share(1));
        Assert.Equal(Gntdev.Fd + 1, a.Fd);
        Assert.Equal(a.Fd + 1, b.Fd);
        Gntdev.CloseFd(a.Fd);
        var c = Gntdev.ExportDmaBuf(DmaBufFlags.None, Dom1, Share(1));
        Assert.Equal(a.Fd, c.Fd); // fd numbers are not identities
        Gntdev.CloseFd(b.Fd);
        Gntdev.CloseFd(c.Fd);
        AssertLedgerAtBaseline();
    }

    [Fact]
    public void Rule5_ExportHoldsTheGntdevFileSoTheInstanceOutlivesItsFd()
    {
        var export = Gntdev.ExportDmaBuf(DmaBufFlags.None, Dom1, Share(2));
        Gntdev.Dispose();
        Assert.True(Gntdev.IsClosed);
        Assert.False(Gntdev.IsReleased);
        Assert.Equal(1, Sim.Ledger().Exports);
        Process.Close(export.Fd);
        Assert.True(Gntdev.IsReleased);
        AssertLedgerAtBaseline();
    }
}
