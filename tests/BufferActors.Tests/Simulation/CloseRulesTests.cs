using BufferActors.Native;
using BufferActors.Native.Simulation;

namespace BufferActors.Tests.Simulation;

/// <summary>Spec: "IMP_RELEASE(fd) and closing the gntdev file", and the owner-crash invariant.</summary>
public sealed class CloseRulesTests : SimulatorTest
{
    [Fact]
    public void ClosingTheFileReleasesImportsAndUnmapsMaps()
    {
        var camera = Sim.AddDevice("camera");
        int fd = camera.AllocateBuffer(Process, 2);
        Gntdev.ImportDmaBuf(fd, 2, Dom1);
        var refs = Share(2);
        Gntdev.MapGrantRefs(Dom1, refs);
        Gntdev.CloseFd(fd);

        Gntdev.Dispose();
        Assert.True(Gntdev.IsReleased);
        Assert.Equal(0, Sim.Ledger().Imports);
        Assert.Equal(0, Sim.Ledger().Maps);
        AssertLedgerAtBaseline();
    }

    [Fact]
    public void ClosingWithLiveExportsKeepsThemUntilConsumersLetGo_ThenReleasesImports()
    {
        // gntdev-dmabuf: every export holds the gntdev file, so gntdev_release (which releases the
        // imports) runs only once the last export is released.
        var camera = Sim.AddDevice("camera");
        int imported = camera.AllocateBuffer(Process, 1);
        Gntdev.ImportDmaBuf(imported, 1, Dom1);
        Gntdev.CloseFd(imported);
        var export = Gntdev.ExportDmaBuf(DmaBufFlags.Coherent, Dom1, Share(2));
        var att = Display.Attach(Process, export.Fd);
        Gntdev.CloseFd(export.Fd);

        Gntdev.Dispose();
        Assert.True(Gntdev.IsClosed);
        var ledger = Sim.Ledger();
        Assert.Equal(1, ledger.Exports);
        Assert.Equal(1, ledger.Imports);
        Assert.Equal(-2, ledger.ReservationPages);

        att.Detach();
        Assert.True(Gntdev.IsReleased);
        AssertLedgerAtBaseline();
    }

    [Fact]
    public void OwnerCrashReleasesEverythingItAloneHeld_AndKeepsWhatADeviceHolds()
    {
        var refs = Share(4);
        var mapping = Gntdev.MapGrantRefs(Dom1, refs[..1]);
        var held = Gntdev.ExportDmaBuf(DmaBufFlags.WriteCombine, Dom1, refs[1..3]);
        var unheld = Gntdev.ExportDmaBuf(DmaBufFlags.None, Dom1, refs[3..]);
        var att = Display.Attach(Process, held.Fd);
        att.Map(DmaDirection.ToDevice);
        Assert.NotNull(mapping);
        _ = unheld;

        Process.Exit(); // SIGKILL: the address space and every fd go
        Assert.False(Frontend.IsInUse(refs[0]));
        Assert.False(Frontend.IsInUse(refs[3]));
        Assert.True(Frontend.IsInUse(refs[1]));
        var ledger = Sim.Ledger();
        Assert.Equal(0, ledger.OpenFds);
        Assert.Equal(1, ledger.Exports);

        att.Detach();
        AssertLedgerAtBaseline();
    }

    [Fact]
    public void OperationsOnAClosedInstanceAreEbadf()
    {
        var refs = Share(1);
        Gntdev.Dispose();
        Fails(Errno.EBADF, () => Gntdev.ExportDmaBuf(DmaBufFlags.None, Dom1, refs));
        Fails(Errno.EBADF, () => Gntdev.WaitReleased(3, 0));
        Fails(Errno.EBADF, () => Gntdev.MapGrantRefs(Dom1, refs));
        AssertLedgerAtBaseline();
    }

    [Fact]
    public void Dup3PutsTheFileUnderTheExactNumber_ClosingWhatItNamedBefore()
    {
        // How the lane's fd-reuse cases give a second dma-buf the first one's number on purpose.
        var first = Gntdev.ExportDmaBuf(DmaBufFlags.None, Dom1, Share(1));
        var second = Gntdev.ExportDmaBuf(DmaBufFlags.None, Dom1, Share(1));
        Process.DupTo(second.Fd, first.Fd); // first's only descriptor goes: it is released
        Assert.Equal(WaitReleasedResult.TimedOut, Gntdev.WaitReleased(second.Fd, 0));
        Assert.Same(Process.DmaBufOf(second.Fd), Process.DmaBufOf(first.Fd));
        Fails(Errno.EINVAL, () => Process.DupTo(second.Fd, second.Fd));
        Fails(Errno.EBADF, () => Process.DupTo(second.Fd, -1));
        Fails(Errno.EBADF, () => Process.DupTo(second.Fd, int.MaxValue)); // beyond the descriptor limit, as the kernel's RLIMIT_NOFILE
        Process.DupTo(second.Fd, 50); // beyond the top: the numbers in between stay free
        int next = Process.Dup(second.Fd);
        Assert.Equal(second.Fd + 1, next);
        foreach (int fd in new[] { next, 50, first.Fd, second.Fd }) Process.Close(fd);
        Assert.Equal(WaitReleasedResult.NotFound, Gntdev.WaitReleased(second.Fd, 0));
        AssertLedgerAtBaseline();
    }
}
