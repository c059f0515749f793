using BufferActors.Native;

namespace BufferActors.Conformance.Cases;

/// <summary>DMABUF_EXP_FROM_REFS: what is accepted, what is refused, and that a refusal leaves nothing behind.</summary>
internal static class ExportCases
{
    public static IEnumerable<ConformanceCase> All =>
    [
        new("export-one-page", "a one-page export is a dma-buf of 4096 bytes, released by its last close", c =>
        {
            var dev = c.Gntdev();
            var grant = c.Grant(c.Allocator(), 1, pattern: 1);
            var export = c.Try("export", () => dev.ExportDmaBuf(DmaBufFlags.None, c.Target.Self, [.. grant.Refs]));
            if (export is null) return;
            c.Observe("size", () => c.Target.SizeOf(export.Fd));
            c.Observe("wait 0 ms while open", () => dev.WaitReleased(export.Fd, 0));
            c.Try("close", () => dev.CloseFd(export.Fd));
            c.Observe("wait 0 ms after close", () => dev.WaitReleased(export.Fd, 0));
        }),
        new("export-many-pages", "256 pages export as one dma-buf of 1 MiB", c =>
        {
            var dev = c.Gntdev();
            var grant = c.Grant(c.Allocator(), 256, pattern: 2);
            var export = c.Try("export", () => dev.ExportDmaBuf(DmaBufFlags.None, c.Target.Self, [.. grant.Refs]));
            if (export is null) return;
            c.Observe("size", () => c.Target.SizeOf(export.Fd));
            c.Try("close", () => dev.CloseFd(export.Fd));
            c.Observe("wait after close", () => dev.WaitReleased(export.Fd, 0));
        }),
        new("export-up-to-limit", "with gntdev's limit at 64 pages, 64 pages export", c =>
        {
            WithPageLimit(c, 64, () =>
            {
                var dev = c.Gntdev();
                c.See("page limit", dev.PageLimit);
                var grant = c.Grant(c.Allocator(), 64, pattern: 3);
                var export = c.Try("export 64", () => dev.ExportDmaBuf(DmaBufFlags.None, c.Target.Self, [.. grant.Refs]));
                if (export is not null) c.Try("close", () => dev.CloseFd(export.Fd));
            });
        }),
        new("export-over-limit", "with gntdev's limit at 64 pages, 65 pages are refused with EINVAL", c =>
        {
            WithPageLimit(c, 64, () =>
            {
                var dev = c.Gntdev();
                var grant = c.Grant(c.Allocator(), 65, pattern: 4);
                c.Try("export 65", () => dev.ExportDmaBuf(DmaBufFlags.None, c.Target.Self, [.. grant.Refs]));
            });
        }),
        new("export-count-zero", "an export of no refs is refused with EINVAL", c =>
        {
            c.Try("export 0", () => c.Gntdev().ExportDmaBuf(DmaBufFlags.None, c.Target.Self, []));
        }),
        new("export-bogus-ref", "a ref nobody granted fails the export with EINVAL", c =>
        {
            c.Try("export", () => c.Gntdev().ExportDmaBuf(DmaBufFlags.None, c.Target.Self, [30000]));
        }),
        new("export-ended-ref", "a ref whose grant was ended fails the export with EINVAL", c =>
        {
            var allocator = c.Allocator();
            var grant = c.Grant(allocator, 1, pattern: 5);
            c.Try("deallocate", () => allocator.Deallocate(grant));
            c.Try("export", () => c.Gntdev().ExportDmaBuf(DmaBufFlags.None, c.Target.Self, [.. grant.Refs]));
        }),
        new("export-partly-bogus", "one bad ref among good ones fails the export, and the good grants are not left mapped", c =>
        {
            var dev = c.Gntdev();
            var allocator = c.Allocator();
            var grant = c.Grant(allocator, 3, pattern: 6);
            int fds = c.Target.OpenFdCount();
            c.Try("export 3 good + 1 bogus", () => dev.ExportDmaBuf(DmaBufFlags.None, c.Target.Self, [.. grant.Refs, 30001]));
            c.See("descriptors added", c.Target.OpenFdCount() - fds);
            c.Try("deallocate the good grants", () => allocator.Deallocate(grant));
            // Had a page stayed mapped, its grant would still be live and export again.
            c.Try("export the good refs again", () => dev.ExportDmaBuf(DmaBufFlags.None, c.Target.Self, [.. grant.Refs]));
        }),
        new("export-unknown-domain", "refs named with a domain that does not exist fail with EINVAL", c =>
        {
            var grant = c.Grant(c.Allocator(), 1, pattern: 7);
            c.Try("export as d7", () => c.Gntdev().ExportDmaBuf(DmaBufFlags.None, new DomainId(7), [.. grant.Refs]));
        }),
        new("export-granted-to-another-domain", "a ref granted to another domain cannot be mapped by this one: EINVAL", c =>
        {
            var allocator = c.Allocator();
            var grant = allocator.Allocate(new DomainId(5), 1);
            c.Try("export", () => c.Gntdev().ExportDmaBuf(DmaBufFlags.None, c.Target.Self, [.. grant.Refs]));
        }),
        new("export-reserved-domain", "a reserved domain id (DOMID_SELF) is refused with EINVAL before the kernel is asked", c =>
        {
            var grant = c.Grant(c.Allocator(), 1, pattern: 8);
            c.Try("export as DOMID_SELF", () => c.Gntdev().ExportDmaBuf(DmaBufFlags.None, new DomainId(DomainId.FirstReserved), [.. grant.Refs]));
        }),
        new("export-read-only-grant", "a read-only grant cannot back an export (the export maps writable): EINVAL", c =>
        {
            var grant = c.Grant(c.Allocator(), 1, pattern: 9, writable: false);
            c.Try("export", () => c.Gntdev().ExportDmaBuf(DmaBufFlags.None, c.Target.Self, [.. grant.Refs]));
        }),
        new("export-flag-wc", "GNTDEV_DMA_FLAG_WC alone is accepted; DMA-able backing lowers the reservation by the page count", c =>
            ExportWithFlags(c, DmaBufFlags.WriteCombine)),
        new("export-flag-coherent", "GNTDEV_DMA_FLAG_COHERENT alone is accepted; DMA-able backing lowers the reservation by the page count", c =>
            ExportWithFlags(c, DmaBufFlags.Coherent)),
        new("export-flags-wc-and-coherent", "both DMA flags together are refused with EINVAL", c =>
        {
            var grant = c.Grant(c.Allocator(), 1, pattern: 10);
            c.Try("export WC|COHERENT", () => c.Gntdev().ExportDmaBuf(DmaBufFlags.WriteCombine | DmaBufFlags.Coherent, c.Target.Self, [.. grant.Refs]));
        }),
        new("export-then-import", "an exported dma-buf imports again (IMP_TO_REFS): new refs, the frontend's contents", c =>
        {
            var dev = c.Gntdev();
            var grant = c.Grant(c.Allocator(), 4, pattern: 11);
            var export = c.Try("export", () => dev.ExportDmaBuf(DmaBufFlags.None, c.Target.Self, [.. grant.Refs]));
            if (export is null) return;
            var import = c.Try("import the export", () => dev.ImportDmaBuf(export.Fd, 4, c.Target.Self));
            if (import is not null)
            {
                c.See("new refs", !import.Refs.Intersect(grant.Refs).Any());
                var map = c.Try("map the new refs", () => dev.MapGrantRefs(c.Target.Self, [.. import.Refs]));
                if (map is not null)
                {
                    c.See("contents", CaseContext.Describe(map.Pages, 11));
                    c.Try("unmap", () => dev.UnmapGrantRefs(map));
                }
                c.Try("release the import", () => dev.ReleaseImport(export.Fd));
            }
            c.Try("close the export", () => dev.CloseFd(export.Fd));
            c.Observe("wait after close", () => dev.WaitReleased(export.Fd, 0));
        }),
    ];

    private static void ExportWithFlags(CaseContext c, DmaBufFlags flags)
    {
        var dev = c.Gntdev();
        var grant = c.Grant(c.Allocator(), 4, pattern: 12);
        long before = c.Target.ReservationPages();
        var export = c.Try($"export {flags}", () => dev.ExportDmaBuf(flags, c.Target.Self, [.. grant.Refs]));
        if (export is null) return;
        c.See("reservation change while exported", c.Target.ReservationPages() - before);
        c.Try("close", () => dev.CloseFd(export.Fd));
        c.Observe("wait after close", () => dev.WaitReleased(export.Fd, 0));
        c.See("reservation change after release", c.Target.ReservationPages() - before);
    }

    internal static void WithPageLimit(CaseContext c, int limit, Action body)
    {
        int previous = c.Target.GntdevPageLimit;
        c.Target.GntdevPageLimit = limit;
        try
        {
            body();
            c.RunCleanup();
        }
        finally
        {
            c.Target.GntdevPageLimit = previous;
        }
    }
}
