using BufferActors.Native;
using BufferActors.Native.Simulation;

namespace BufferActors.Tests.Simulation;

/// <summary>Spec: "WAIT_RELEASED(fd, wait_to_ms)".</summary>
public sealed class WaitReleasedRulesTests : SimulatorTest
{
    [Fact]
    public void FdNeverExportedHereIsNotFound()
    {
        Assert.Equal(WaitReleasedResult.NotFound, Gntdev.WaitReleased(99, 0));
        AssertLedgerAtBaseline();
    }

    [Fact]
    public void LookupIsOnlyAmongThisInstancesExports()
    {
        var export = Gntdev.ExportDmaBuf(DmaBufFlags.None, Dom1, Share(1));
        using (var other = Sim.OpenGrantDevice(Process))
            Assert.Equal(WaitReleasedResult.NotFound, other.WaitReleased(export.Fd, 0));
        Gntdev.CloseFd(export.Fd);
        AssertLedgerAtBaseline();
    }

    [Fact]
    public void AlreadyReleasedIsNotFound()
    {
        var export = Gntdev.ExportDmaBuf(DmaBufFlags.None, Dom1, Share(1));
        Gntdev.CloseFd(export.Fd);
        Assert.Equal(WaitReleasedResult.NotFound, Gntdev.WaitReleased(export.Fd, 100));
        AssertLedgerAtBaseline();
    }

    [Fact]
    public void ZeroTimeoutPollsAndTimesOutWhileAlive()
    {
        var export = Gntdev.ExportDmaBuf(DmaBufFlags.None, Dom1, Share(1));
        Assert.Equal(WaitReleasedResult.TimedOut, Gntdev.WaitReleased(export.Fd, 0));
        Gntdev.CloseFd(export.Fd);
        AssertLedgerAtBaseline();
    }

    [Fact]
    public void StillAliveAfterTheTimeoutIsTimedOut()
    {
        var export = Gntdev.ExportDmaBuf(DmaBufFlags.None, Dom1, Share(1));
        Assert.Equal(WaitReleasedResult.TimedOut, Gntdev.WaitReleased(export.Fd, 20));
        Gntdev.CloseFd(export.Fd);
        AssertLedgerAtBaseline();
    }

    [Fact]
    public async Task ReleasedWithinTheTimeoutIsReleased()
    {
        var export = Gntdev.ExportDmaBuf(DmaBufFlags.None, Dom1, Share(1));
        var att = Display.Attach(Process, export.Fd);
        Gntdev.CloseFd(export.Fd);
        var waiter = Task.Run(() => Gntdev.WaitReleased(export.Fd, 30_000));
        await WaitersBlocked(1);
        att.Detach();
        Assert.Equal(WaitReleasedResult.Released, await waiter);
        AssertLedgerAtBaseline();
    }

    [Fact]
    public async Task AReleaseWakesOnlyTheNewestWaiter_OlderOnesTimeOut()
    {
        // dmabuf_exp_wait_obj_signal completes the first wait object of the buffer in a list kept newest
        // first, then stops; the real-kernel lane's wait-several-waiters case shows the same.
        var export = Gntdev.ExportDmaBuf(DmaBufFlags.None, Dom1, Share(1));
        // Each waiter on its own thread, so none waits for the thread pool to start it.
        Task<WaitReleasedResult> Waiter(uint ms) => Task.Factory.StartNew(() => Gntdev.WaitReleased(export.Fd, ms), TaskCreationOptions.LongRunning);
        var oldest = Waiter(3000);
        await WaitersBlocked(1);
        var middle = Waiter(3000);
        await WaitersBlocked(2);
        var newest = Waiter(30_000);
        await WaitersBlocked(3);
        Gntdev.CloseFd(export.Fd);
        Assert.Equal(WaitReleasedResult.Released, await newest);
        Assert.Equal(WaitReleasedResult.TimedOut, await middle);
        Assert.Equal(WaitReleasedResult.TimedOut, await oldest);
        AssertLedgerAtBaseline();
    }

    [Fact]
    public async Task TheLongestTimeOutIsAccepted()
    {
        // 0xFFFFFFFF ms is a valid wait_to_ms (the kernel turns it into its longest jiffies wait).
        var export = Gntdev.ExportDmaBuf(DmaBufFlags.None, Dom1, Share(1));
        var waiter = Task.Run(() => Gntdev.WaitReleased(export.Fd, uint.MaxValue));
        await WaitersBlocked(1);
        Gntdev.CloseFd(export.Fd);
        Assert.Equal(WaitReleasedResult.Released, await waiter);
        AssertLedgerAtBaseline();
    }

    [Fact]
    public async Task WaitingDoesNotKeepTheBufferAlive()
    {
        var export = Gntdev.ExportDmaBuf(DmaBufFlags.None, Dom1, Share(1));
        var buffer = Process.DmaBufOf(export.Fd);
        var waiter = Task.Run(() => Gntdev.WaitReleased(export.Fd, 30_000));
        await WaitersBlocked(1);
        Gntdev.CloseFd(export.Fd);
        Assert.True(buffer.IsReleased);
        Assert.Equal(WaitReleasedResult.Released, await waiter);
        AssertLedgerAtBaseline();
    }

    [Fact]
    public async Task AReusedFdNumberFindsTheNewestExport()
    {
        // Fd numbers are not identities: the old export lives on through an attachment after its fd
        // was closed, the number is reused, and a wait by number finds the newer buffer.
        var old = Gntdev.ExportDmaBuf(DmaBufFlags.None, Dom1, Share(1));
        var att = Display.Attach(Process, old.Fd);
        Gntdev.CloseFd(old.Fd);
        var fresh = Gntdev.ExportDmaBuf(DmaBufFlags.None, Dom1, Share(1));
        Assert.Equal(old.Fd, fresh.Fd);
        var waiter = Task.Run(() => Gntdev.WaitReleased(fresh.Fd, 30_000));
        await WaitersBlocked(1);
        Gntdev.CloseFd(fresh.Fd);
        Assert.Equal(WaitReleasedResult.Released, await waiter); // it waited on the newest
        Assert.Equal(WaitReleasedResult.TimedOut, Gntdev.WaitReleased(fresh.Fd, 0)); // the old one still matches
        att.Detach();
        Assert.Equal(WaitReleasedResult.NotFound, Gntdev.WaitReleased(fresh.Fd, 0));
        AssertLedgerAtBaseline();
    }
}
