using BufferActors.Native;
using BufferActors.Native.Simulation;

namespace BufferActors.Tests.Simulation;

/// <summary>Spec: "Import: IMP_TO_REFS(fd, count, domid) -> refs" and "IMP_RELEASE(fd)".</summary>
public sealed class ImportRulesTests : SimulatorTest
{
    private readonly SimulatedDevice _camera;

    public ImportRulesTests() => _camera = Sim.AddDevice("camera");

    [Theory]
    [InlineData(0)]
    [InlineData(65537)]
    public void Rule1_CountOfZeroOrAboveTheLimitIsEinval(int count)
    {
        int fd = _camera.AllocateBuffer(Process, 4);
        Fails(Errno.EINVAL, () => Gntdev.ImportDmaBuf(fd, count, Dom1));
        Gntdev.CloseFd(fd);
        AssertLedgerAtBaseline();
    }

    [Fact]
    public void Rule1_FdThatIsNotOpenIsEbadf_AndNotADmaBufIsEinval()
    {
        Fails(Errno.EBADF, () => Gntdev.ImportDmaBuf(77, 1, Dom1));
        Fails(Errno.EINVAL, () => Gntdev.ImportDmaBuf(Gntdev.Fd, 1, Dom1));
        AssertLedgerAtBaseline();
    }

    [Fact]
    public void Rule2_FirstSegmentOffsetNotZeroIsEinvalAndUnwinds()
    {
        int fd = _camera.AllocateBuffer(Process, 4, firstOffset: 512);
        Fails(Errno.EINVAL, () => Gntdev.ImportDmaBuf(fd, 4, Dom1));
        Assert.Empty(Process.DmaBufOf(fd).Attachments);
        Assert.Equal(1, Process.DmaBufOf(fd).References);
        Gntdev.CloseFd(fd);
        AssertLedgerAtBaseline();
    }

    [Theory]
    [InlineData(4, 3)]
    [InlineData(4, 5)]
    public void Rule2_BufferSizeNotCountPagesIsEinvalAndUnwinds(int pages, int count)
    {
        int fd = _camera.AllocateBuffer(Process, pages);
        Fails(Errno.EINVAL, () => Gntdev.ImportDmaBuf(fd, count, Dom1));
        Assert.Equal(0, Sim.Ledger().Attachments);
        Gntdev.CloseFd(fd);
        AssertLedgerAtBaseline();
    }

    [Fact]
    public void Rule2_SizeThatIsNotAPageMultipleIsEinval()
    {
        int fd = _camera.AllocateBuffer(Process, 2, sizeBytes: 4096 + 100);
        Fails(Errno.EINVAL, () => Gntdev.ImportDmaBuf(fd, 2, Dom1));
        Gntdev.CloseFd(fd);
        AssertLedgerAtBaseline();
    }

    [Fact]
    public void Rule2_PagesNotBackedByOrdinaryMemoryAreEinval()
    {
        int vram = _camera.AllocateBuffer(Process, 2, DeviceMemoryKind.Vram);
        Fails(Errno.EINVAL, () => Gntdev.ImportDmaBuf(vram, 2, Dom1));
        Gntdev.CloseFd(vram);
        AssertLedgerAtBaseline();
    }

    [Fact]
    public void Rule2_AnExportOfTheBackendsOwnGrantsCanBeImportedAgain_WithItsContents()
    {
        // The real-kernel lane's export-then-import: dom0 grants to itself, exports, imports the export.
        var own = Sim.Backend.GrantPages(DomainId.Dom0, Sim.Backend.AllocatePages(2), 2);
        var export = Gntdev.ExportDmaBuf(DmaBufFlags.None, DomainId.Dom0, own);
        Process.DmaBufOf(export.Fd).CpuView().Page(1)[7] = 0x3C;
        var import = Gntdev.ImportDmaBuf(export.Fd, 2, DomainId.Dom0);
        Assert.Empty(import.Refs.Intersect(own));
        var map = Gntdev.MapGrantRefs(DomainId.Dom0, [.. import.Refs]);
        Assert.Equal(0x3C, map.Pages.Page(1)[7]);
        Gntdev.UnmapGrantRefs(map);

        Gntdev.CloseFd(export.Fd);
        Assert.Equal(WaitReleasedResult.TimedOut, Gntdev.WaitReleased(export.Fd, 0)); // the import holds it
        Gntdev.ReleaseImport(export.Fd);
        Assert.Equal(WaitReleasedResult.NotFound, Gntdev.WaitReleased(export.Fd, 0));
        foreach (var r in own) Assert.True(Sim.Backend.EndAccess(r));
        AssertLedgerAtBaseline();
    }

    [Fact]
    public void Rule2_AnExportOfAnotherDomainsGrantsImports_ButItsRefsMapAsBadPage()
    {
        // Its pages are foreign mappings in dom0: granted again, no one can map them.
        var export = Gntdev.ExportDmaBuf(DmaBufFlags.None, Dom1, Share(2));
        var import = Gntdev.ImportDmaBuf(export.Fd, 2, Dom1);
        var e = Assert.Throws<GntdevException>(() => Frontend.MapForeign(DomainId.Dom0, import.Refs[0]));
        Assert.Equal(GrantStatus.BadPage, e.GrantStatus);
        Gntdev.ReleaseImport(export.Fd);
        Gntdev.CloseFd(export.Fd);
        AssertLedgerAtBaseline();
    }

    [Fact]
    public void Rule3_EveryPageIsGrantedReadWriteToTheDomain_WithoutCopies()
    {
        int fd = _camera.AllocateBuffer(Process, 3);
        var buffer = Process.DmaBufOf(fd);
        var import = Gntdev.ImportDmaBuf(fd, 3, Dom1);
        Assert.Equal(3, import.PageCount);
        Assert.All(import.Refs, r => Assert.True(r >= 8, "refs below GNTTAB_NR_RESERVED_ENTRIES are never handed out"));

        buffer.CpuView().Page(2)[10] = 0x5A; // the camera writes a pixel
        int handle = Frontend.MapForeign(DomainId.Dom0, import.Refs[2]); // writable map succeeds
        Assert.True(Sim.Backend.IsInUse(import.Refs[2]));
        Frontend.UnmapForeign(handle);

        Gntdev.ReleaseImport(fd);
        Gntdev.CloseFd(fd);
        AssertLedgerAtBaseline();
    }

    [Fact]
    public void Rule3_NoFreeGrantRefsIsEnospcAndUnwinds()
    {
        using var sim = new XenSimulator(new SimulatorOptions { GrantTableEntries = 12 }); // 8 reserved + 4
        var baseline = sim.Ledger();
        sim.CreateDomain(1);
        var process = sim.StartProcess("backend");
        var dev = sim.OpenGrantDevice(process);
        int fd = sim.AddDevice("camera").AllocateBuffer(process, 5);
        Fails(Errno.ENOSPC, () => dev.ImportDmaBuf(fd, 5, Dom1));
        Assert.Equal(0, sim.Ledger().GrantedRefs);
        Assert.Equal(0, sim.Ledger().Attachments);
        dev.CloseFd(fd);
        dev.Dispose();
        Assert.Empty(sim.Ledger().DifferencesFrom(baseline));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(4)]
    public void Rule3_FailureGrantingPageKEndsTheRefsGrantedSoFar(int failingCall)
    {
        int fd = _camera.AllocateBuffer(Process, 6);
        Sim.Faults = new FaultPlan().FailAt(FaultSite.ImportGrantPage, Errno.ENOSPC, occurrence: failingCall);
        var e = Fails(Errno.ENOSPC, () => Gntdev.ImportDmaBuf(fd, 6, Dom1));
        Assert.Equal(failingCall - 1, e.FailedPage);
        Assert.Equal(0, Sim.Ledger().GrantedRefs);
        Assert.Equal(0, Sim.Ledger().Imports);
        Gntdev.CloseFd(fd);
        AssertLedgerAtBaseline();
    }

    [Theory]
    [InlineData(FaultSite.ImportAttach)]
    [InlineData(FaultSite.ImportMapAttachment)]
    [InlineData(FaultSite.ImportAllocateRefs)]
    public void Rule3_FailureAtEachStepUnwindsInReverse(FaultSite site)
    {
        int fd = _camera.AllocateBuffer(Process, 2);
        Sim.Faults = new FaultPlan().FailAt(site, Errno.ENOMEM);
        Fails(Errno.ENOMEM, () => Gntdev.ImportDmaBuf(fd, 2, Dom1));
        Assert.Equal(1, Process.DmaBufOf(fd).References);
        Gntdev.CloseFd(fd);
        AssertLedgerAtBaseline();
    }

    [Fact]
    public void Rule4_ImportIsKeyedByTheCallersFd_AndSurvivesClosingIt()
    {
        int fd = _camera.AllocateBuffer(Process, 2);
        var import = Gntdev.ImportDmaBuf(fd, 2, Dom1);
        var buffer = Process.DmaBufOf(fd);
        Gntdev.CloseFd(fd); // the import holds its own reference
        Assert.False(buffer.IsReleased);
        Gntdev.ReleaseImport(import.Fd);
        Assert.True(buffer.IsReleased);
        AssertLedgerAtBaseline();
    }

    [Fact]
    public void Rule4_CopyOutFailureReleasesTheImportAtOnce()
    {
        int fd = _camera.AllocateBuffer(Process, 2);
        Sim.Faults = new FaultPlan().FailAt(FaultSite.ImportCopyOut, Errno.EFAULT);
        Fails(Errno.EFAULT, () => Gntdev.ImportDmaBuf(fd, 2, Dom1));
        Assert.Equal(0, Sim.Ledger().Imports);
        Assert.Equal(0, Sim.Ledger().GrantedRefs);
        Gntdev.CloseFd(fd);
        AssertLedgerAtBaseline();
    }

    [Fact]
    public void Release_UnknownFdIsEnoent_AndReleasingTwiceIsEnoent()
    {
        Fails(Errno.ENOENT, () => Gntdev.ReleaseImport(5));
        int fd = _camera.AllocateBuffer(Process, 1);
        Gntdev.ImportDmaBuf(fd, 1, Dom1);
        Gntdev.ReleaseImport(fd);
        Fails(Errno.ENOENT, () => Gntdev.ReleaseImport(fd));
        Gntdev.CloseFd(fd);
        AssertLedgerAtBaseline();
    }

    [Fact]
    public void Release_EndsAccessThenUnmapsDetachesAndDropsTheBuffer()
    {
        int fd = _camera.AllocateBuffer(Process, 4);
        var buffer = Process.DmaBufOf(fd);
        var import = Gntdev.ImportDmaBuf(fd, 4, Dom1);
        Gntdev.CloseFd(fd);
        Assert.Equal(4, Sim.Backend.GrantedRefs);
        Gntdev.ReleaseImport(import.Fd);
        Assert.Equal(0, Sim.Backend.GrantedRefs);
        Assert.Empty(buffer.Attachments);
        Assert.True(buffer.IsReleased);
        AssertLedgerAtBaseline();
    }

    [Fact]
    public void Release_RefStillMappedByTheRemoteIsDeferred_PinsThePage_AndEndsOnceUnmapped()
    {
        int fd = _camera.AllocateBuffer(Process, 3);
        var buffer = Process.DmaBufOf(fd);
        var import = Gntdev.ImportDmaBuf(fd, 3, Dom1);
        int handle = Frontend.MapForeign(DomainId.Dom0, import.Refs[1]);
        Gntdev.CloseFd(fd);
        Gntdev.ReleaseImport(import.Fd);

        var deferred = Assert.Single(Sim.DeferredEndAccesses());
        Assert.Equal(import.Refs[1], deferred.Ref);
        Assert.Equal(Dom1, deferred.Grantee);
        Assert.False(buffer.IsReleased); // the page is not freed while the remote maps it
        Assert.Equal(1, Sim.Backend.GrantedRefs);

        Sim.Tick();
        Assert.Equal(1, Assert.Single(Sim.DeferredEndAccesses()).Attempts);
        Frontend.UnmapForeign(handle);
        Sim.Tick();
        Assert.Empty(Sim.DeferredEndAccesses());
        Assert.True(buffer.IsReleased);
        AssertLedgerAtBaseline();
    }

    [Fact]
    public void Release_DeferredRefIsReportedPendingAsStateNotDropped()
    {
        using var sim = new XenSimulator(new SimulatorOptions { DeferredReportAfter = 3 }, new FaultPlan().KeepRemoteMapping(Dom1));
        var baseline = sim.Ledger();
        sim.CreateDomain(1);
        var process = sim.StartProcess("backend");
        var dev = sim.OpenGrantDevice(process);
        int fd = sim.AddDevice("camera").AllocateBuffer(process, 2);
        dev.ImportDmaBuf(fd, 2, Dom1);
        dev.CloseFd(fd);
        dev.ReleaseImport(fd);
        for (int i = 0; i < 5; i++) sim.Tick();
        Assert.All(sim.DeferredEndAccesses(), d => Assert.True(d.ReportedPending));
        Assert.Equal(2, sim.Reports.Count);
        Assert.Equal(5, sim.Ledger().OldestDeferredTicks);

        sim.DestroyDomain(Dom1); // the hypervisor drops a dead domain's mappings
        sim.Tick();
        dev.Dispose();
        Assert.Empty(sim.Ledger().DifferencesFrom(baseline));
    }
}
