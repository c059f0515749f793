using BufferActors.Native;
using BufferActors.Native.Simulation;
using BufferActors.Native.Simulation.Remote;

namespace BufferActors.Tests.Remote;

/// <summary>The native interface through <see cref="RemoteGrantDevice"/> behaves as the in-process simulator does.</summary>
public sealed class RemoteGrantDeviceTests : RemoteSimulatorTest
{
    [Fact]
    public async Task ExportWaitsTimeOut_ThenReleaseWakesAWaitBlockedOnTheSameConnection()
    {
        using var gntdev = Connect();
        var refs = Share(2);
        var export = gntdev.ExportDmaBuf(DmaBufFlags.Coherent, Dom1, refs);
        Assert.Equal(refs, export.Refs);
        Assert.True(Frontend.IsInUse(refs[0]));
        Assert.Equal(-2, Sim.Ledger().ReservationPages);

        Assert.Equal(WaitReleasedResult.TimedOut, gntdev.WaitReleased(export.Fd, 0));
        Assert.Equal(WaitReleasedResult.TimedOut, gntdev.WaitReleased(export.Fd, 30));

        // The server runs requests concurrently: a blocked wait does not hold up the close that ends it.
        // To know the wait is blocked: the server's gntdev instance has one caller in WAIT_RELEASED, which the
        // simulator's gate reports as the wait gives up the lock to block.
        var waiting = Task.Run(() => gntdev.WaitReleased(export.Fd, 5000));
        await Sim.Gate.When(() => Sim.BlockedWaiters > 0, Bound);
        gntdev.CloseFd(export.Fd);
        Assert.Equal(WaitReleasedResult.Released, await waiting.WaitAsync(Bound));

        Assert.Equal(WaitReleasedResult.NotFound, gntdev.WaitReleased(export.Fd, 0));
        Assert.False(Frontend.IsInUse(refs[0]));
        Assert.Equal(Sim.Ledger(), gntdev.Ledger());
        AssertLedgerAtBaseline();
    }

    [Fact]
    public void ImportGrantsADeviceBufferToTheFrontend_AndReleaseEndsTheGrants()
    {
        using var gntdev = Connect();
        int fd = gntdev.DeviceAllocateBuffer("camera", 2);
        var import = gntdev.ImportDmaBuf(fd, 2, Dom1);
        Assert.Equal(fd, import.Fd);
        Assert.Equal(2, import.PageCount);
        Assert.Equal(1, Sim.Ledger().Imports);

        // The frontend maps what it was granted, reads it, and lets go.
        int handle = Frontend.MapForeign(DomainId.Dom0, import.Refs[1]);
        Frontend.UnmapForeign(handle);

        gntdev.ReleaseImport(fd);
        Assert.Equal(0, Sim.Ledger().Imports);
        Fails(Errno.ENOENT, () => gntdev.ReleaseImport(fd));
        gntdev.CloseFd(fd);
        AssertLedgerAtBaseline();
    }

    [Fact]
    public void GrantMapAliasesTheFrontendsPagesThroughTheMemfd()
    {
        using var gntdev = Connect();
        uint first = Frontend.AllocatePages(3);
        var refs = Frontend.GrantPages(DomainId.Dom0, first, 3);
        var mapping = gntdev.MapGrantRefs(Dom1, refs);
        Assert.Equal(3, mapping.Pages.PageCount);
        Assert.True(Frontend.IsInUse(refs[2]));

        Frontend.Page(first + 2)[100] = 0xAB;          // the guest writes
        Assert.Equal(0xAB, mapping.Pages.Page(2)[100]); // the other process reads the same byte
        mapping.Pages.Page(0)[7] = 0xCD;                // and the other way round
        Assert.Equal(0xCD, Frontend.Page(first)[7]);

        var readOnly = gntdev.MapGrantRefs(Dom1, refs[1..2], readOnly: true);
        Frontend.Page(first + 1)[0] = 0x5A;
        Assert.Equal(0x5A, readOnly.Pages.Read(0)[0]);
        Assert.Throws<InvalidOperationException>(() => readOnly.Pages.Page(0)); // no write reaches the frontend's page

        gntdev.UnmapGrantRefs(mapping);
        gntdev.UnmapGrantRefs(readOnly);
        Assert.Throws<ObjectDisposedException>(() => mapping.Pages.Page(0).Length);
        Assert.False(Frontend.IsInUse(refs[2]));
        Fails(Errno.ENOENT, () => gntdev.UnmapGrantRefs(mapping));
        foreach (var r in refs) Assert.True(Frontend.EndAccess(r));
        AssertLedgerAtBaseline();
    }

    [Fact]
    public void ErrorsComeBackTypedAndChangeNothing()
    {
        using var gntdev = Connect();
        var refs = Share(1);

        var e = Fails(Errno.EINVAL, () => gntdev.ExportDmaBuf(DmaBufFlags.None, Dom1, []));
        Assert.Equal("DMABUF_EXP_FROM_REFS", e.Operation);
        Assert.Equal(WaitReleasedResult.NotFound, gntdev.WaitReleased(99, 0));
        Fails(Errno.ENOENT, () => gntdev.ReleaseImport(99));
        Fails(Errno.EBADF, () => gntdev.CloseFd(77));
        Fails(Errno.EINVAL, () => gntdev.DeviceDetach(12345));
        Fails(Errno.EINVAL, () => gntdev.DeviceAllocateBuffer("camera", 0));

        // A ref that is not granted fails its page with GNTST_bad_gntref; the page that did map is unmapped.
        var map = Fails(Errno.EINVAL, () => gntdev.MapGrantRefs(Dom1, [refs[0], 9999]));
        Assert.Equal(GrantStatus.BadGntref, map.GrantStatus);
        Assert.Equal(1, map.FailedPage);
        Assert.False(Frontend.IsInUse(refs[0]));

        Assert.Equal(0, Sim.Ledger().Maps);
        AssertLedgerAtBaseline();
    }

    [Fact]
    public void EachConnectionIsItsOwnProcess_ExportsAreNotFoundFromAnother()
    {
        using var a = Connect();
        using var b = Connect();
        Assert.NotEqual(a.SimulatedPid, b.SimulatedPid);
        var export = a.ExportDmaBuf(DmaBufFlags.None, Dom1, Share(1));
        Assert.Equal(WaitReleasedResult.NotFound, b.WaitReleased(export.Fd, 0));
        Assert.Equal(WaitReleasedResult.TimedOut, a.WaitReleased(export.Fd, 0));
        AssertLedgerAtBaseline();
    }

    [Fact]
    public void ClosingTheConnectionKeepsAnExportADeviceHolds_UntilTheDeviceDetaches()
    {
        var gntdev = Connect();
        var refs = Share(3);
        var export = gntdev.ExportDmaBuf(DmaBufFlags.WriteCombine, Dom1, refs[..2]);
        ulong attachment = gntdev.DeviceAttach("display", export.Fd);
        gntdev.MapGrantRefs(Dom1, refs[2..]);

        gntdev.Dispose(); // returns once the server has exited the process
        Assert.Equal(1, Server.ClosedConnectionCount);
        Assert.False(Frontend.IsInUse(refs[2]));
        Assert.True(Frontend.IsInUse(refs[0]));
        var ledger = Sim.Ledger();
        Assert.Equal(0, ledger.OpenFds);
        Assert.Equal(1, ledger.Exports);
        Assert.Equal(-2, ledger.ReservationPages);
        Fails(Errno.EIO, () => gntdev.WaitReleased(export.Fd, 0));

        var held = Assert.Single(Server.DeviceAttachments);
        Assert.Equal(attachment, held.Id);
        Assert.Equal("display", held.Device);
        Server.DetachDevice(attachment);
        Assert.Empty(Server.DeviceAttachments);
        AssertLedgerAtBaseline();
    }

    [Fact]
    public void ConnectingToAMissingSocketSaysHowToStartTheSimulator()
    {
        string path = SocketPath + ".missing";
        var e = Assert.Throws<GrantDeviceUnavailableException>(() => RemoteGrantDevice.Connect(path));
        Assert.Equal(path, e.DevicePath);
        Assert.Equal(Errno.ENOENT, e.Errno);
        Assert.Contains("bufferactors simulator serve", e.Message);
        AssertLedgerAtBaseline();
    }
}
