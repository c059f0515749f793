using BufferActors.Native;

namespace BufferActors.Conformance.Cases;

/// <summary>Closing /dev/xen/gntdev with live exports, imports and maps.</summary>
internal static class CloseCases
{
    public static IEnumerable<ConformanceCase> All =>
    [
        new("close-gntdev-with-live-export", "an export outlives the instance that made it; its last close unmaps the grants", c =>
        {
            var allocator = c.Allocator();
            var grant = c.Grant(allocator, 2, pattern: 60);
            var dev = c.Target.OpenGntdev();
            var export = dev.ExportDmaBuf(DmaBufFlags.None, c.Target.Self, [.. grant.Refs]);
            dev.Dispose();
            c.Observe("size after the instance closed", () => c.Target.SizeOf(export.Fd));
            c.Try("close the dma-buf", () => c.Target.Close(export.Fd));
            c.Try("deallocate", () => allocator.Deallocate(grant));
            // Ended at once only if nothing maps it any more.
            c.Try("map the ended refs", () => c.Gntdev().MapGrantRefs(c.Target.Self, [.. grant.Refs]));
        }),
        new("close-gntdev-with-live-import", "closing the instance releases its imports: their refs end", c =>
        {
            var buffer = c.HostBuffer(2, pattern: 61);
            var dev = c.Target.OpenGntdev();
            var import = dev.ImportDmaBuf(buffer.Fd, 2, c.Target.Self);
            dev.Dispose();
            c.Try("map the import's refs", () => c.Gntdev().MapGrantRefs(c.Target.Self, [.. import.Refs]));
        }),
        new("close-gntdev-with-live-map", "closing the instance unmaps its maps: the granter can end its grants at once", c =>
        {
            var allocator = c.Allocator();
            var grant = c.Grant(allocator, 2, pattern: 62);
            var dev = c.Target.OpenGntdev();
            dev.MapGrantRefs(c.Target.Self, [.. grant.Refs]);
            dev.Dispose();
            c.Try("deallocate", () => allocator.Deallocate(grant));
            c.Try("map the ended refs", () => c.Gntdev().MapGrantRefs(c.Target.Self, [.. grant.Refs]));
        }),
        new("close-gntdev-export-keeps-its-imports", "with an export alive, a closed instance keeps its imports until the export goes", c =>
        {
            var allocator = c.Allocator();
            var grant = c.Grant(allocator, 1, pattern: 63);
            var buffer = c.HostBuffer(1, pattern: 64);
            var dev = c.Target.OpenGntdev();
            var export = dev.ExportDmaBuf(DmaBufFlags.None, c.Target.Self, [.. grant.Refs]);
            var import = dev.ImportDmaBuf(buffer.Fd, 1, c.Target.Self);
            dev.Dispose();
            var probe = c.Gntdev();
            c.See("import's refs while the export lives", Maps(probe, import.Refs));
            c.Try("close the export", () => c.Target.Close(export.Fd));
            c.See("import's refs after the export went", Maps(probe, import.Refs));
        }),
        new("close-dup-keeps-export", "a dup of an export's fd keeps it alive after the original is closed", c =>
        {
            var (dev, export) = WaitCases.Export(c, 1);
            int copy = c.Target.Dup(export.Fd);
            c.Try("close the original", () => dev.CloseFd(export.Fd));
            c.Observe("poll (the dup holds it)", () => dev.WaitReleased(export.Fd, 0));
            c.Try("close the dup", () => c.Target.Close(copy));
            c.Observe("poll after both closed", () => dev.WaitReleased(export.Fd, 0));
        }),
    ];

    private static bool Maps(IGrantDevice dev, IReadOnlyList<uint> refs)
    {
        try
        {
            dev.UnmapGrantRefs(dev.MapGrantRefs(DomainId.Dom0, [.. refs]));
            return true;
        }
        catch (GntdevException)
        {
            return false;
        }
    }
}
