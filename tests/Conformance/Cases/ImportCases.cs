using BufferActors.Native;

namespace BufferActors.Conformance.Cases;

/// <summary>DMABUF_IMP_TO_REFS / IMP_RELEASE of a udmabuf: contents both ways, refusals, release.</summary>
internal static class ImportCases
{
    public static IEnumerable<ConformanceCase> All =>
    [
        new("import-contents-both-ways", "the import's refs map the udmabuf's pages: its contents, and writes land in the memfd", c =>
        {
            var dev = c.Gntdev();
            var buffer = c.HostBuffer(4, pattern: 30);
            var import = c.Try("import", () => dev.ImportDmaBuf(buffer.Fd, 4, c.Target.Self));
            if (import is null) return;
            c.See("refs", import.Refs.Count);
            var map = c.Try("map the refs", () => dev.MapGrantRefs(c.Target.Self, [.. import.Refs]));
            if (map is not null)
            {
                c.See("contents through the grants", CaseContext.Describe(map.Pages, 30));
                CaseContext.Fill(map.Pages, 31);
                c.See("memfd after writing through the grants", CaseContext.Describe(buffer.Pages, 31));
                c.Try("unmap", () => dev.UnmapGrantRefs(map));
            }
            c.Try("release", () => dev.ReleaseImport(buffer.Fd));
        }),
        new("import-wrong-count", "a count other than the buffer's page count is refused with EINVAL", c =>
        {
            var dev = c.Gntdev();
            var buffer = c.HostBuffer(4, pattern: 32);
            c.Try("import 3 of 4", () => dev.ImportDmaBuf(buffer.Fd, 3, c.Target.Self));
            c.Try("import 5 of 4", () => dev.ImportDmaBuf(buffer.Fd, 5, c.Target.Self));
            c.Try("import 0", () => dev.ImportDmaBuf(buffer.Fd, 0, c.Target.Self));
            c.Try("release (nothing imported)", () => dev.ReleaseImport(buffer.Fd));
        }),
        new("import-not-a-dma-buf", "a descriptor that is not a dma-buf is refused with EINVAL", c =>
        {
            var dev = c.Gntdev();
            int fd = c.Target.OpenPlainFile();
            c.Defer(() => c.Target.Close(fd));
            c.Try("import a memfd", () => dev.ImportDmaBuf(fd, 1, c.Target.Self));
        }),
        new("import-closed-fd", "a number that is not open is refused with EBADF", c =>
        {
            c.Try("import fd 901", () => c.Gntdev().ImportDmaBuf(901, 1, c.Target.Self));
        }),
        new("import-release-twice", "the second IMP_RELEASE of one import is ENOENT", c =>
        {
            var dev = c.Gntdev();
            var buffer = c.HostBuffer(1, pattern: 33);
            c.Try("import", () => dev.ImportDmaBuf(buffer.Fd, 1, c.Target.Self));
            c.Try("release", () => dev.ReleaseImport(buffer.Fd));
            c.Try("release again", () => dev.ReleaseImport(buffer.Fd));
        }),
        new("import-refs-unmappable-after-release", "once released, the import's refs no longer map", c =>
        {
            var dev = c.Gntdev();
            var buffer = c.HostBuffer(2, pattern: 34);
            var import = c.Try("import", () => dev.ImportDmaBuf(buffer.Fd, 2, c.Target.Self));
            if (import is null) return;
            c.Try("release", () => dev.ReleaseImport(buffer.Fd));
            c.Try("map the released refs", () => dev.MapGrantRefs(c.Target.Self, [.. import.Refs]));
        }),
        new("import-unknown-domain", "IMP_TO_REFS does not check the grantee: a domain that does not exist is accepted", c =>
        {
            var dev = c.Gntdev();
            var buffer = c.HostBuffer(1, pattern: 35);
            c.Try("import for d7", () => dev.ImportDmaBuf(buffer.Fd, 1, new DomainId(7)));
            c.Try("release", () => dev.ReleaseImport(buffer.Fd));
        }),
        new("import-reserved-domain", "a reserved grantee id is refused with EINVAL before the kernel is asked", c =>
        {
            var dev = c.Gntdev();
            var buffer = c.HostBuffer(1, pattern: 36);
            c.Try("import for DOMID_IO", () => dev.ImportDmaBuf(buffer.Fd, 1, new DomainId(0x7FF1)));
        }),
        new("import-outlives-the-callers-fd", "an import holds the buffer: the caller's fd can be closed at once; release still finds it by number", c =>
        {
            var dev = c.Gntdev();
            var buffer = c.HostBuffer(2, pattern: 37);
            int fd = buffer.Fd;
            var import = c.Try("import", () => dev.ImportDmaBuf(fd, 2, c.Target.Self));
            if (import is null) return;
            c.Try("close the caller's fd", buffer.CloseFd);
            var map = c.Try("map the refs", () => dev.MapGrantRefs(c.Target.Self, [.. import.Refs]));
            if (map is not null)
            {
                c.See("contents", CaseContext.Describe(map.Pages, 37));
                c.Try("unmap", () => dev.UnmapGrantRefs(map));
            }
            c.Try("release by the closed number", () => dev.ReleaseImport(fd));
        }),
        new("import-release-while-mapped-is-deferred", "releasing an import whose refs are mapped succeeds; the grants end only after the unmap", c =>
        {
            var dev = c.Gntdev();
            var buffer = c.HostBuffer(2, pattern: 38);
            var import = c.Try("import", () => dev.ImportDmaBuf(buffer.Fd, 2, c.Target.Self));
            if (import is null) return;
            var map = c.Try("map the refs", () => dev.MapGrantRefs(c.Target.Self, [.. import.Refs]));
            c.Try("release while mapped", () => dev.ReleaseImport(buffer.Fd));
            // The grants could not be ended: they are still live, so they map a second time.
            var again = c.Try("map again after the release", () => dev.MapGrantRefs(c.Target.Self, [.. import.Refs]));
            if (again is not null) c.See("contents", CaseContext.Describe(again.Pages, 38));
            if (again is not null) c.Try("unmap the second map", () => dev.UnmapGrantRefs(again));
            if (map is not null) c.Try("unmap", () => dev.UnmapGrantRefs(map));
            c.Target.LetDeferredTimerRun();
            c.Try("map after the deferred end", () => dev.MapGrantRefs(c.Target.Self, [.. import.Refs]));
        }),
    ];
}
