using BufferActors.Native;

namespace BufferActors.Conformance.Cases;

/// <summary>
/// Which object the kernel finds by a number once the number is reused: WAIT_RELEASED and IMP_RELEASE
/// search per-instance lists to which new entries are added at the head, so the newest object with the
/// number wins — the reason a lifecycle must never name a kernel object by a number it does not own.
/// </summary>
internal static class FdReuseCases
{
    public static IEnumerable<ConformanceCase> All =>
    [
        new("reuse-wait-finds-the-newest-export", "export A held by an import, its fd closed; export B gets A's number: a wait finds B, then A again once B is gone", c =>
        {
            var dev = c.Gntdev();
            var allocator = c.Allocator();
            var a = dev.ExportDmaBuf(DmaBufFlags.None, c.Target.Self, [.. c.Grant(allocator, 1, 40).Refs]);
            var holdA = c.Try("import A (holds it)", () => dev.ImportDmaBuf(a.Fd, 1, c.Target.Self));
            c.Try("close A's fd", () => dev.CloseFd(a.Fd));
            var b = c.Try("export B", () => dev.ExportDmaBuf(DmaBufFlags.None, c.Target.Self, [.. c.Grant(allocator, 1, 41).Refs]));
            if (b is null || holdA is null) return;
            c.See("B reuses A's number", b.Fd == a.Fd);
            c.Observe("poll the number (B open)", () => dev.WaitReleased(b.Fd, 0));
            c.Try("close B's fd", () => dev.CloseFd(b.Fd));
            c.Observe("poll the number (B released, A held)", () => dev.WaitReleased(a.Fd, 0));
            c.Try("release A's import", () => dev.ReleaseImport(a.Fd));
            c.Observe("poll the number (both released)", () => dev.WaitReleased(a.Fd, 0));
        }),
        new("reuse-imp-release-finds-the-newest-import", "two imports under one number: IMP_RELEASE ends the newest first, whichever buffer the caller meant", c =>
        {
            var dev = c.Gntdev();
            var x = c.HostBuffer(1, pattern: 42);
            int number = x.Fd;
            var importX = c.Try("import X", () => dev.ImportDmaBuf(number, 1, c.Target.Self));
            var y = c.HostBuffer(1, pattern: 43);
            c.Try("close X's fd", x.CloseFd);
            c.Try("dup Y to X's number", () => c.Target.DupTo(y.Fd, number));
            c.Defer(() => c.Target.Close(number));
            var importY = c.Try("import Y by that number", () => dev.ImportDmaBuf(number, 1, c.Target.Self));
            if (importX is null || importY is null) return;
            c.Try("release the number", () => dev.ReleaseImport(number));
            c.See("X's refs still granted", Maps(dev, importX));
            c.See("Y's refs still granted", Maps(dev, importY));
            c.Try("release the number again", () => dev.ReleaseImport(number));
            c.See("X's refs still granted", Maps(dev, importX));
            c.Try("release the number a third time", () => dev.ReleaseImport(number));
        }),
        new("reuse-imp-release-by-a-stale-number", "an import is found by the number it was made under, even after that number names another file", c =>
        {
            var dev = c.Gntdev();
            var x = c.HostBuffer(1, pattern: 44);
            int number = x.Fd;
            var importX = c.Try("import X", () => dev.ImportDmaBuf(number, 1, c.Target.Self));
            var y = c.HostBuffer(1, pattern: 45);
            c.Try("close X's fd", x.CloseFd);
            c.Try("dup Y to X's number", () => c.Target.DupTo(y.Fd, number));
            c.Defer(() => c.Target.Close(number));
            c.Try("release the number (Y was never imported)", () => dev.ReleaseImport(number));
            if (importX is not null) c.See("X's refs still granted", Maps(dev, importX));
        }),
        new("reuse-placeholder-keeps-the-number", "a placeholder dup3'ed onto an export's fd drops the reference but keeps the number: waits by it still find the export, and no new export is given it", c =>
        {
            var dev = c.Gntdev();
            var allocator = c.Allocator();
            var a = dev.ExportDmaBuf(DmaBufFlags.None, c.Target.Self, [.. c.Grant(allocator, 1, 48).Refs]);
            var hold = c.Try("import A (holds it)", () => dev.ImportDmaBuf(a.Fd, 1, c.Target.Self));
            c.Try("replace A's fd with a placeholder", () => dev.ReplaceWithPlaceholder(a.Fd));
            c.Observe("poll A's number (held by the import)", () => dev.WaitReleased(a.Fd, 0));
            var b = c.Try("export B", () => dev.ExportDmaBuf(DmaBufFlags.None, c.Target.Self, [.. c.Grant(allocator, 1, 49).Refs]));
            if (b is not null)
            {
                c.See("B got A's number", b.Fd == a.Fd);
                c.Try("close B", () => dev.CloseFd(b.Fd));
            }
            if (hold is not null) c.Try("release A's import", () => dev.ReleaseImport(a.Fd));
            c.Observe("poll A's number (released)", () => dev.WaitReleased(a.Fd, 0));
            c.Try("replace the placeholder again", () => dev.ReplaceWithPlaceholder(a.Fd));
            c.Try("close the placeholder", () => dev.CloseFd(a.Fd));
            c.Try("replace a closed number", () => dev.ReplaceWithPlaceholder(a.Fd));
        }),
        new("reuse-import-by-its-own-duplicate", "an import made under a duplicate of the caller's fd is released by the duplicate's number, whatever the caller's number names by then", c =>
        {
            var dev = c.Gntdev();
            var x = c.HostBuffer(1, pattern: 57);
            int own = dev.DuplicateFd(x.Fd);
            c.Defer(() => c.Target.Close(own));
            var import = c.Try("import X by its duplicate", () => dev.ImportDmaBuf(own, 1, c.Target.Self));
            c.Try("close the caller's fd", x.CloseFd);
            c.Try("release by the caller's old number", () => dev.ReleaseImport(x.Fd));
            c.Try("release by the duplicate", () => dev.ReleaseImport(own));
            if (import is not null) c.See("X's refs still granted", Maps(dev, import));
        }),
        new("reuse-export-number-after-release", "a released export's number goes to the next export, which a wait then finds", c =>
        {
            var dev = c.Gntdev();
            var allocator = c.Allocator();
            var a = dev.ExportDmaBuf(DmaBufFlags.None, c.Target.Self, [.. c.Grant(allocator, 1, 46).Refs]);
            c.Try("close A", () => dev.CloseFd(a.Fd));
            var b = c.Try("export B", () => dev.ExportDmaBuf(DmaBufFlags.None, c.Target.Self, [.. c.Grant(allocator, 1, 47).Refs]));
            if (b is null) return;
            c.See("B reuses A's number", b.Fd == a.Fd);
            c.Observe("a wait meant for A (B open)", () => dev.WaitReleased(a.Fd, 0));
            c.Try("close B", () => dev.CloseFd(b.Fd));
        }),
    ];

    private static bool Maps(IGrantDevice dev, ImportedDmaBuf import)
    {
        try
        {
            dev.UnmapGrantRefs(dev.MapGrantRefs(DomainId.Dom0, [.. import.Refs]));
            return true;
        }
        catch (GntdevException)
        {
            return false;
        }
    }
}
