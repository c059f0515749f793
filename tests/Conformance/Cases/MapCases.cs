using BufferActors.Native;

namespace BufferActors.Conformance.Cases;

/// <summary>MAP_GRANT_REF + mmap, UNMAP_GRANT_REF, read-only maps and unmap notifications.</summary>
internal static class MapCases
{
    public static IEnumerable<ConformanceCase> All =>
    [
        new("map-contents-both-ways", "a map shows the granter's pages, and the granter sees writes through it", c =>
        {
            var dev = c.Gntdev();
            var grant = c.Grant(c.Allocator(), 2, pattern: 50);
            var map = c.Try("map", () => dev.MapGrantRefs(c.Target.Self, [.. grant.Refs]));
            if (map is null) return;
            c.See("contents", CaseContext.Describe(map.Pages, 50));
            CaseContext.Fill(map.Pages, 51);
            c.See("granter's pages after writing through the map", CaseContext.Describe(grant.Pages, 51));
            c.Try("unmap", () => dev.UnmapGrantRefs(map));
        }),
        new("map-for-peer", "a map made for another process is mmapped from a file of its own: the granter's pages, writes reach them; a read-only grant maps read-only", c =>
        {
            var dev = c.Gntdev();
            var grant = c.Grant(c.Allocator(), 2, pattern: 60);
            var map = c.Try("map for a peer", () => dev.MapGrantRefsForPeer(c.Target.Self, [.. grant.Refs]));
            if (map is null) return;
            // One mmap only: the kernel lets a grant map be mmapped once, and that mmap's protection decides read-only.
            using (var view = PeerMappingView.Map(map, writable: true))
            {
                c.See("contents", CaseContext.Describe(view, 60));
                CaseContext.Fill(view, 61);
            }
            c.Try("unmap", () => dev.UnmapPeerGrantRefs(map));
            c.See("granter's pages after writing through it and unmapping", CaseContext.Describe(grant.Pages, 61));
            c.Try("unmap again", () => dev.UnmapPeerGrantRefs(map));

            var readOnlyGrant = c.Grant(c.Allocator(), 1, pattern: 62, writable: false);
            var readOnly = c.Try("map a read-only grant read-only for a peer", () => dev.MapGrantRefsForPeer(c.Target.Self, [.. readOnlyGrant.Refs], readOnly: true));
            if (readOnly is null) return;
            using (var view = PeerMappingView.Map(readOnly, writable: false)) c.See("contents read-only", CaseContext.Describe(view, 62));
            c.Try("unmap read-only", () => dev.UnmapPeerGrantRefs(readOnly));
        }),
        new("map-bogus-ref", "a ref nobody granted does not map: EINVAL", c =>
        {
            c.Try("map", () => c.Gntdev().MapGrantRefs(c.Target.Self, [30002]));
        }),
        new("map-count-zero", "a map of no refs is refused with EINVAL", c =>
        {
            c.Try("map 0", () => c.Gntdev().MapGrantRefs(c.Target.Self, []));
        }),
        new("map-unmap-twice", "the second unmap of one map is ENOENT", c =>
        {
            var dev = c.Gntdev();
            var grant = c.Grant(c.Allocator(), 1, pattern: 52);
            var map = c.Try("map", () => dev.MapGrantRefs(c.Target.Self, [.. grant.Refs]));
            if (map is null) return;
            c.Try("unmap", () => dev.UnmapGrantRefs(map));
            c.Try("unmap again", () => dev.UnmapGrantRefs(map));
        }),
        new("map-read-only-grant", "a read-only grant maps read-only (contents visible) but not writable (EINVAL)", c =>
        {
            var dev = c.Gntdev();
            var grant = c.Grant(c.Allocator(), 1, pattern: 53, writable: false);
            c.Try("map writable", () => dev.MapGrantRefs(c.Target.Self, [.. grant.Refs]));
            var map = c.Try("map read-only", () => dev.MapGrantRefs(c.Target.Self, [.. grant.Refs], readOnly: true));
            if (map is null) return;
            c.See("contents", CaseContext.Describe(map.Pages, 53));
            c.Try("unmap", () => dev.UnmapGrantRefs(map));
        }),
        new("map-read-only-of-writable-grant", "a writable grant may be mapped read-only", c =>
        {
            var dev = c.Gntdev();
            var grant = c.Grant(c.Allocator(), 1, pattern: 54);
            var map = c.Try("map read-only", () => dev.MapGrantRefs(c.Target.Self, [.. grant.Refs], readOnly: true));
            if (map is null) return;
            c.See("contents", CaseContext.Describe(map.Pages, 54));
            c.Try("unmap", () => dev.UnmapGrantRefs(map));
        }),
        new("map-read-only-cannot-be-made-writable", "a read-only map cannot be mprotect'ed writable (a writable map can), so no write can reach the granter's page through it", c =>
        {
            var dev = c.Gntdev();
            var grant = c.Grant(c.Allocator(), 2, pattern: 58);
            var map = c.Try("map read-only", () => dev.MapGrantRefs(c.Target.Self, [.. grant.Refs], readOnly: true));
            if (map is not null)
            {
                c.Try("make it writable", () => c.Target.MakeWritable(map));
                c.See("contents", CaseContext.Describe(map.Pages, 58));
                c.Try("unmap", () => dev.UnmapGrantRefs(map));
            }
            var writable = c.Try("map writable", () => dev.MapGrantRefs(c.Target.Self, [.. grant.Refs]));
            if (writable is not null)
            {
                c.Try("make the writable map writable", () => c.Target.MakeWritable(writable));
                c.Try("unmap the writable map", () => dev.UnmapGrantRefs(writable));
            }
        }),
        new("map-unmap-notify-clears-byte", "gntdev's unmap notification clears the byte in the granter's page when the backend unmaps", c =>
        {
            var dev = c.Gntdev();
            var grant = c.Grant(c.Allocator(), 2, pattern: 55);
            var map = c.Try("map", () => dev.MapGrantRefs(c.Target.Self, [.. grant.Refs]));
            if (map is null) return;
            const int offset = 4096 + 100;
            c.See("byte before", grant.Pages.Page(1)[100]);
            c.Try("set unmap notify", () => c.Target.SetUnmapNotify(dev, map, offset));
            c.See("byte while mapped", grant.Pages.Page(1)[100]);
            c.Try("unmap", () => dev.UnmapGrantRefs(map));
            c.See("byte after unmap", grant.Pages.Page(1)[100]);
        }),
        new("map-after-frontend-deallocates", "a frontend that deallocates a mapped grant: the map keeps its pages; the grant ends after the unmap", c =>
        {
            var dev = c.Gntdev();
            var allocator = c.Allocator();
            var grant = c.Grant(allocator, 1, pattern: 56);
            var map = c.Try("map", () => dev.MapGrantRefs(c.Target.Self, [.. grant.Refs]));
            if (map is null) return;
            c.Try("deallocate while mapped", () => allocator.Deallocate(grant));
            c.See("contents after deallocation", CaseContext.Describe(map.Pages, 56));
            var again = c.Try("map again (grant still live)", () => dev.MapGrantRefs(c.Target.Self, [.. grant.Refs]));
            if (again is not null) c.Try("unmap the second map", () => dev.UnmapGrantRefs(again));
            c.Try("unmap", () => dev.UnmapGrantRefs(map));
            c.Target.LetDeferredTimerRun();
            c.Try("map after the deferred end", () => dev.MapGrantRefs(c.Target.Self, [.. grant.Refs]));
        }),
        new("gntalloc-unmap-notify-clears-byte", "gntalloc's unmap notification clears the byte a mapping backend sees when the frontend deallocates", c =>
        {
            var dev = c.Gntdev();
            var allocator = c.Allocator();
            var grant = c.Grant(allocator, 1, pattern: 57);
            var map = c.Try("map", () => dev.MapGrantRefs(c.Target.Self, [.. grant.Refs]));
            if (map is null) return;
            c.Try("set unmap notify", () => allocator.SetUnmapNotify(grant, 9, UnmapNotifyActions.ClearByte));
            c.See("byte before", map.Pages.Page(0)[9]);
            c.Try("deallocate", () => allocator.Deallocate(grant));
            c.See("byte the backend sees after", map.Pages.Page(0)[9]);
            c.Try("unmap", () => dev.UnmapGrantRefs(map));
            c.Target.LetDeferredTimerRun();
        }),
    ];
}
