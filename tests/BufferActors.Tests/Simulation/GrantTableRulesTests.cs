using BufferActors.Native;
using BufferActors.Native.Simulation;

namespace BufferActors.Tests.Simulation;

/// <summary>Spec: "Grant tables (v1) in brief", and MAP_GRANT_REF / UNMAP_GRANT_REF.</summary>
public sealed class GrantTableRulesTests : SimulatorTest
{
    [Fact]
    public void ReservedDomainIdsAreRefusedEverywhere()
    {
        var reserved = new DomainId(0x7FF1);
        Assert.True(reserved.IsReserved);
        Assert.False(new DomainId(0x7FEF).IsReserved);
        Fails(Errno.EINVAL, () => Sim.CreateDomain(0x7FF0));
        Fails(Errno.EINVAL, () => Frontend.GrantAccess(reserved, 0));
        Fails(Errno.EINVAL, () => Gntdev.MapGrantRefs(reserved, [8]));
        int fd = Display.AllocateBuffer(Process, 1);
        Fails(Errno.EINVAL, () => Gntdev.ImportDmaBuf(fd, 1, reserved));
        Gntdev.CloseFd(fd);
        AssertLedgerAtBaseline();
    }

    [Fact]
    public void MappingSetsInUse_EndAccessFailsWhileMapped_AndSucceedsAfterUnmap()
    {
        var refs = Share(2);
        var mapping = Gntdev.MapGrantRefs(Dom1, refs);
        Assert.True(Frontend.IsInUse(refs[0]));
        Assert.False(Frontend.EndAccess(refs[0]));
        Gntdev.UnmapGrantRefs(mapping);
        Assert.False(Frontend.IsInUse(refs[0]));
        AssertLedgerAtBaseline();
    }

    [Fact]
    public void ReadOnlyGrantMapsReadOnly_NotWritable()
    {
        var refs = Share(1, readOnly: true);
        Assert.Equal(GrantStatus.GeneralError, Fails(Errno.EINVAL, () => Gntdev.MapGrantRefs(Dom1, refs)).GrantStatus);
        var mapping = Gntdev.MapGrantRefs(Dom1, refs, readOnly: true);
        Assert.True(mapping.ReadOnly);
        Gntdev.UnmapGrantRefs(mapping);
        AssertLedgerAtBaseline();
    }

    [Fact]
    public void AReadOnlyMapShowsTheFrontendsPage_ButNoWriteThroughItReachesThePage()
    {
        uint frame = Frontend.AllocatePages(1);
        var refs = Frontend.GrantPages(DomainId.Dom0, frame, 1); // writable, mapped read-only by the backend
        var mapping = Gntdev.MapGrantRefs(Dom1, refs, readOnly: true);
        Frontend.Page(frame)[9] = 0x77;
        Assert.True(mapping.Pages.IsReadOnly);
        Assert.Equal(0x77, mapping.Pages.Read(0)[9]);
        Assert.Throws<InvalidOperationException>(() => mapping.Pages.Page(0));
        Assert.Equal(0x77, Frontend.Page(frame)[9]);

        var writable = Gntdev.MapGrantRefs(Dom1, refs);
        writable.Pages.Page(0)[9] = 0x78; // a writable map still writes through
        Assert.Equal(0x78, Frontend.Page(frame)[9]);
        Gntdev.UnmapGrantRefs(writable);
        Gntdev.UnmapGrantRefs(mapping);
        Assert.True(Frontend.EndAccess(refs[0]));
        AssertLedgerAtBaseline();
    }

    [Fact]
    public void UnmappingTwiceIsEnoent()
    {
        var mapping = Gntdev.MapGrantRefs(Dom1, Share(1));
        Gntdev.UnmapGrantRefs(mapping);
        Fails(Errno.ENOENT, () => Gntdev.UnmapGrantRefs(mapping));
        AssertLedgerAtBaseline();
    }

    [Fact]
    public void PartialMapFailureOfMapGrantRefsUnmapsTheRest()
    {
        var refs = Share(6);
        Sim.Faults = new FaultPlan().FailMapAtPage(4, GrantStatus.BadPage);
        var e = Fails(Errno.EINVAL, () => Gntdev.MapGrantRefs(Dom1, refs));
        Assert.Equal(4, e.FailedPage);
        Assert.Equal(0, Frontend.Grants.InUse);
        AssertLedgerAtBaseline();
    }

    [Fact]
    public void MapIndexesAdvanceByPages()
    {
        var a = Gntdev.MapGrantRefs(Dom1, Share(2));
        var b = Gntdev.MapGrantRefs(Dom1, Share(1));
        Assert.Equal(0UL, a.Index);
        Assert.Equal(2UL * PageView.PageSize, b.Index);
        Gntdev.UnmapGrantRefs(a);
        Gntdev.UnmapGrantRefs(b);
        AssertLedgerAtBaseline();
    }

    [Fact]
    public void DomainDeathDropsItsForeignMappingsButNotItsGrantsMappedByOthers()
    {
        var refs = Share(2);
        var export = Gntdev.ExportDmaBuf(DmaBufFlags.None, Dom1, refs);
        int fd = Display.AllocateBuffer(Process, 1);
        var import = Gntdev.ImportDmaBuf(fd, 1, Dom1);
        Frontend.MapForeign(DomainId.Dom0, import.Refs[0]);

        Sim.DestroyDomain(Dom1);
        Assert.False(Frontend.IsAlive);
        Assert.Equal(0, Frontend.ForeignMappings);
        Assert.True(Frontend.IsInUse(refs[0]), "the backend's export still maps the dead domain's page");
        Gntdev.ReleaseImport(fd);
        Assert.Empty(Sim.DeferredEndAccesses());
        Gntdev.CloseFd(fd);
        Gntdev.CloseFd(export.Fd);
        AssertLedgerAtBaseline();
    }
}
