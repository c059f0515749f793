using BufferActors.Native;
using BufferActors.Native.Simulation;

namespace BufferActors.Tests.Simulation;

/// <summary>gntdev's SET_UNMAP_NOTIFY with the clear-byte action (the real-kernel lane's map-unmap-notify-clears-byte).</summary>
public sealed class UnmapNotifyRulesTests : SimulatorTest
{
    [Fact]
    public void TheByteIsClearedInTheGrantersPageWhenTheMapGoes()
    {
        var refs = Share(2);
        var map = Gntdev.MapGrantRefs(Dom1, refs);
        map.Pages.Page(1)[33] = 0xA2;
        Gntdev.SetUnmapNotify(map.Index + PageView.PageSize + 33, UnmapNotifyActions.ClearByte);
        Assert.Equal(0xA2, map.Pages.Page(1)[33]);
        Gntdev.UnmapGrantRefs(map);
        var again = Gntdev.MapGrantRefs(Dom1, refs);
        Assert.Equal(0, again.Pages.Page(1)[33]);
        Gntdev.UnmapGrantRefs(again);
        AssertLedgerAtBaseline();
    }

    [Fact]
    public void AnOffsetNoMapHoldsIsEnoent_AnEventChannelOrUnknownActionIsEinval()
    {
        var map = Gntdev.MapGrantRefs(Dom1, Share(1));
        Fails(Errno.ENOENT, () => Gntdev.SetUnmapNotify(map.Index + 4 * PageView.PageSize, UnmapNotifyActions.ClearByte));
        Fails(Errno.EINVAL, () => Gntdev.SetUnmapNotify(map.Index, UnmapNotifyActions.SendEvent, 5));
        Fails(Errno.EINVAL, () => Gntdev.SetUnmapNotify(map.Index, (UnmapNotifyActions)0x8));
        Gntdev.UnmapGrantRefs(map);
        AssertLedgerAtBaseline();
    }
}
