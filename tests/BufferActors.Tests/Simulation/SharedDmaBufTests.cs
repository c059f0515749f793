using BufferActors.Native;
using BufferActors.Native.Linux;
using Microsoft.Win32.SafeHandles;

namespace BufferActors.Tests.Simulation;

/// <summary>
/// A simulated dma-buf handed to another process as a real descriptor (<c>ShareDmaBuf</c>): it holds the buffer
/// like any reference until its last close and its last mapping are gone, carries the pages, and comes back as the
/// same buffer when handed in again (<c>AdoptDmaBuf</c>); anything else handed in is refused.
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class SharedDmaBufTests : SimulatorTest
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(5);

    [Fact]
    public async Task ASharedDescriptorHoldsTheBufferUntilItsLastCloseAndMapping_ThenTheExportIsReleased()
    {
        var export = Gntdev.ExportDmaBuf(DmaBufFlags.None, Dom1, Share(2));
        var shared = Gntdev.ShareDmaBuf(export.Fd);
        Gntdev.CloseFd(export.Fd); // the backend lets go; the other process still holds it
        Assert.Equal(1, Sim.Ledger().Exports);
        Assert.Equal(1, Sim.SharedDescriptors);

        // As with the kernel's: the descriptor's size is the buffer's (lseek to its end).
        Assert.Equal(2 * PageView.PageSize, RandomAccess.GetLength(shared));
        using (var region = SharedMemory.MapShared((int)shared.DangerousGetHandle(), 0, 2 * PageView.PageSize, writable: false))
        {
            shared.Dispose(); // the descriptor goes; the mapping still holds the buffer, as with a dma-buf
            Assert.Equal(1, Sim.Ledger().Exports);
        }

        await Sim.WhenLedger(l => l.Exports == 0, Bound);
        Assert.Equal(0, Sim.SharedDescriptors);
        Assert.Equal(WaitReleasedResult.NotFound, Gntdev.WaitReleased(export.Fd, 0));
        AssertLedgerAtBaseline();
    }

    [Fact]
    public async Task ASharedDescriptorHandedBackIsTheSameBuffer_AndImportsAsIt()
    {
        var refs = Share(3);
        var export = Gntdev.ExportDmaBuf(DmaBufFlags.None, Dom1, refs);
        int adopted;
        using (var shared = Gntdev.ShareDmaBuf(export.Fd))
        {
            var (a, b) = SeqPacketSocket.Pair();
            using (a)
            using (b)
            {
                // Across a socket, as a client would hand it back: the number differs, the file is the same.
                a.Send([1], [shared]);
                var received = new List<SafeFileHandle>();
                b.Receive(new byte[4], received);
                using var back = Assert.Single(received);
                adopted = Gntdev.AdoptDmaBuf(back);
            }
        }
        Assert.Same(Process.DmaBufOf(export.Fd), Process.DmaBufOf(adopted));
        Gntdev.CloseFd(adopted);
        Gntdev.CloseFd(export.Fd);
        await Sim.WhenLedger(l => l.Exports == 0, Bound);
        AssertLedgerAtBaseline();
    }

    [Fact]
    public void ADescriptorTheSimulatorDidNotShareIsRefused()
    {
        string file = Path.GetTempFileName();
        try
        {
            using var other = File.OpenHandle(file);
            var e = Fails(Errno.EINVAL, () => Gntdev.AdoptDmaBuf(other));
            Assert.Contains("not a dma-buf", e.Detail);
        }
        finally
        {
            File.Delete(file);
        }
        Fails(Errno.EBADF, () => Gntdev.ShareDmaBuf(77));
        AssertLedgerAtBaseline();
    }
}
