using BufferActors.Native;
using BufferActors.Native.Linux;

namespace BufferActors.Tests.Simulation;

/// <summary>
/// A grant map made for another process (<c>MapGrantRefsForPeer</c>, what <c>serve</c> answers a client's MAP with):
/// a map in the grant table like any other, whose pages another process maps from a file of its own: a copy taken at
/// the map, written back at the unmap when writable, sealed when read-only (docs/simulator.md, deliberate differences).
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class PeerGrantMapTests : SimulatorTest
{
    private readonly List<uint> _granted = [];

    /// <summary><paramref name="pages"/> frontend pages granted to dom0: the first frame and the refs.</summary>
    private (uint Frame, uint[] Refs) Granted(int pages, bool readOnly = false)
    {
        uint frame = Frontend.AllocatePages(pages);
        var refs = Frontend.GrantPages(DomainId.Dom0, frame, pages, readOnly);
        _granted.AddRange(refs);
        return (frame, refs);
    }

    /// <summary>The frontend ends its grants (each must end: nothing maps it any more), then the ledger is at baseline.</summary>
    private void AssertEverythingEnded()
    {
        foreach (var r in _granted) Assert.True(Frontend.EndAccess(r), $"ref {r} still mapped");
        AssertLedgerAtBaseline();
    }

    [Fact]
    public void APeerMapHoldsTheGrantsLikeAMap_AndItsFileHoldsTheGrantedPages()
    {
        var (frame, refs) = Granted(3);
        for (uint p = 0; p < 3; p++) Frontend.Page(frame + p).Fill((byte)(40 + p));

        var map = Gntdev.MapGrantRefsForPeer(Dom1, refs);

        Assert.Equal((3, 0UL, false), (map.PageCount, map.Offset, map.ReadOnly));
        Assert.Equal(1, Gntdev.MapCount);
        Assert.Equal(3L * PageView.PageSize, RandomAccess.GetLength(map.File));
        using (var region = SharedMemory.MapShared((int)map.File.DangerousGetHandle(), 0, 3 * PageView.PageSize, writable: true))
        {
            for (int p = 0; p < 3; p++) Assert.Equal((byte)(40 + p), region.Slice((long)p * PageView.PageSize + 100, 1)[0]);
        }
        Gntdev.UnmapPeerGrantRefs(map);
        Assert.Equal(0, Gntdev.MapCount);
        Assert.True(map.File.IsClosed);
        AssertEverythingEnded();
    }

    [Fact]
    public void WritesThroughAWritablePeerMapReachTheGranterAtTheUnmap()
    {
        var (frame, refs) = Granted(2);
        var map = Gntdev.MapGrantRefsForPeer(Dom1, refs);
        using (var region = SharedMemory.MapShared((int)map.File.DangerousGetHandle(), 0, 2 * PageView.PageSize, writable: true))
        {
            region.Slice(PageView.PageSize + 5, 1)[0] = 0xAB;
            Gntdev.UnmapPeerGrantRefs(map);
        }
        Assert.Equal(0xAB, Frontend.Page(frame + 1)[5]);
        AssertEverythingEnded();
    }

    [Fact]
    public void AReadOnlyPeerMapCannotBeMappedWritable_AndWritesNothingBack()
    {
        var (frame, refs) = Granted(1);
        Frontend.Page(frame).Fill(7);
        var map = Gntdev.MapGrantRefsForPeer(Dom1, refs, readOnly: true);
        int fd = (int)map.File.DangerousGetHandle();

        Assert.ThrowsAny<NativeCallException>(() => SharedMemory.MapShared(fd, 0, PageView.PageSize, writable: true));
        Assert.Throws<UnauthorizedAccessException>(() => RandomAccess.Write(map.File, new byte[] { 1 }, 0)); // sealed: EPERM
        using (var region = SharedMemory.MapShared(fd, 0, PageView.PageSize, writable: false)) Assert.Equal(7, region.Slice(9, 1)[0]);
        Frontend.Page(frame).Fill(8); // the frontend draws on; the unmap must not put the old copy back
        Gntdev.UnmapPeerGrantRefs(map);
        Assert.Equal(8, Frontend.Page(frame)[9]);
        AssertEverythingEnded();
    }

    [Fact]
    public void RefusedPeerMapsChangeNothing_AndAPeerMapIsNotUnmappedAsAMapOrTwice()
    {
        var (_, refs) = Granted(1);
        Fails(Errno.EINVAL, () => Gntdev.MapGrantRefsForPeer(Dom1, []));
        Fails(Errno.EINVAL, () => Gntdev.MapGrantRefsForPeer(Dom1, [refs[0], 9999]));
        Assert.Equal(0, Gntdev.MapCount);

        var map = Gntdev.MapGrantRefsForPeer(Dom1, refs);
        var plain = Gntdev.MapGrantRefs(Dom1, refs);
        Fails(Errno.ENOENT, () => Gntdev.UnmapGrantRefs(new GrantMapping(map.Index, Dom1, refs, false, plain.Pages)));
        Gntdev.UnmapPeerGrantRefs(map);
        Fails(Errno.ENOENT, () => Gntdev.UnmapPeerGrantRefs(map));
        Gntdev.UnmapGrantRefs(plain);
        AssertEverythingEnded();
    }

    [Fact]
    public void ThePeerMapsOfAProcessThatDiesAreUnmapped()
    {
        var (_, refs) = Granted(2);
        var map = Gntdev.MapGrantRefsForPeer(Dom1, refs);
        Process.Exit();
        Assert.True(map.File.IsClosed);
        AssertEverythingEnded();
    }
}
