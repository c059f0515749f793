using BufferActors.Native;
using BufferActors.Native.Simulation;

namespace BufferActors.Tests.Simulation;

/// <summary>Spec: export rule 6, the dma-buf ops (attach, map_dma_buf, unmap_dma_buf, release).</summary>
public sealed class DmaBufOpsRulesTests : SimulatorTest
{
    [Fact]
    public void Rule6_AttachStartsWithDirectionNone_AndMappingWithNoneIsEinval()
    {
        var export = Gntdev.ExportDmaBuf(DmaBufFlags.None, Dom1, Share(2));
        var att = Display.Attach(Process, export.Fd);
        Assert.Equal(DmaDirection.None, att.Direction);
        Fails(Errno.EINVAL, () => att.Map(DmaDirection.None));
        att.Detach();
        Gntdev.CloseFd(export.Fd);
        AssertLedgerAtBaseline();
    }

    [Fact]
    public void Rule6_SameDirectionReturnsTheCachedMapping_OtherDirectionIsEbusy()
    {
        var export = Gntdev.ExportDmaBuf(DmaBufFlags.None, Dom1, Share(2));
        var att = Display.Attach(Process, export.Fd);
        att.Map(DmaDirection.ToDevice);
        att.Map(DmaDirection.ToDevice);
        Fails(Errno.EBUSY, () => att.Map(DmaDirection.FromDevice));
        Assert.Equal(DmaDirection.ToDevice, att.Direction);
        att.Detach();
        Gntdev.CloseFd(export.Fd);
        AssertLedgerAtBaseline();
    }

    [Fact]
    public void Rule6_UnmapDoesNothing_TheMappingLastsUntilDetach()
    {
        var export = Gntdev.ExportDmaBuf(DmaBufFlags.None, Dom1, Share(2));
        var att = Display.Attach(Process, export.Fd);
        att.Map(DmaDirection.Bidirectional);
        att.Unmap();
        Assert.True(att.IsMapped);
        att.Detach();
        Assert.False(att.IsMapped);
        Gntdev.CloseFd(export.Fd);
        AssertLedgerAtBaseline();
    }

    [Fact]
    public void Rule6_ReleaseWaitsForTheLastReference_FdsDupsAndAttachments()
    {
        var refs = Share(3);
        var export = Gntdev.ExportDmaBuf(DmaBufFlags.WriteCombine, Dom1, refs);
        int dup = Process.Dup(export.Fd);
        var att = Display.Attach(Process, export.Fd);
        att.Map(DmaDirection.ToDevice);
        var buffer = Process.DmaBufOf(export.Fd);

        Gntdev.CloseFd(export.Fd);
        Gntdev.CloseFd(dup);
        Assert.False(buffer.IsReleased);
        Assert.All(refs, r => Assert.True(Frontend.IsInUse(r), "never unmapped while an attachment maps the buffer"));
        Assert.Equal(-3, Sim.Ledger().ReservationPages);

        att.Detach();
        Assert.True(buffer.IsReleased);
        Assert.All(refs, r => Assert.False(Frontend.IsInUse(r)));
        Assert.Equal(0, Sim.Ledger().ReservationPages);
        AssertLedgerAtBaseline();
    }

    [Fact]
    public async Task Rule6_ReleaseWakesWaitersAndLeavesTheExportList()
    {
        var export = Gntdev.ExportDmaBuf(DmaBufFlags.None, Dom1, Share(1));
        var waiter = Task.Run(() => Gntdev.WaitReleased(export.Fd, 30_000));
        await WaitersBlocked(1);
        Gntdev.CloseFd(export.Fd);
        Assert.Equal(WaitReleasedResult.Released, await waiter);
        Assert.Equal(0, Gntdev.ExportCount);
        AssertLedgerAtBaseline();
    }

    [Fact]
    public void DetachTwiceIsEinval()
    {
        var export = Gntdev.ExportDmaBuf(DmaBufFlags.None, Dom1, Share(1));
        var att = Display.Attach(Process, export.Fd);
        att.Detach();
        Fails(Errno.EINVAL, att.Detach);
        Gntdev.CloseFd(export.Fd);
        AssertLedgerAtBaseline();
    }

    [Fact]
    public void AttachingAClosedFdIsEbadf()
    {
        var export = Gntdev.ExportDmaBuf(DmaBufFlags.None, Dom1, Share(1));
        Gntdev.CloseFd(export.Fd);
        Fails(Errno.EBADF, () => Display.Attach(Process, export.Fd));
        Fails(Errno.EBADF, () => Gntdev.CloseFd(export.Fd));
        AssertLedgerAtBaseline();
    }
}
