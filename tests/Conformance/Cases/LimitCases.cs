using BufferActors.Native;

namespace BufferActors.Conformance.Cases;

/// <summary>gntalloc's grant limit, the grant table's size, gntdev's page limit on maps and imports.</summary>
internal static class LimitCases
{
    public static IEnumerable<ConformanceCase> All =>
    [
        new("gntalloc-limit", "gntalloc refuses grants beyond its limit with ENOSPC, and grants again once some are deallocated", c =>
        {
            WithAllocatorLimit(c, 16, () =>
            {
                var allocator = c.Allocator();
                var first = c.Try("allocate 16", () => allocator.Allocate(c.Target.Self, 16));
                c.Try("allocate 1 more", () => allocator.Allocate(c.Target.Self, 1));
                if (first is not null) c.Try("deallocate the 16", () => allocator.Deallocate(first));
                var again = c.Try("allocate 1 again", () => allocator.Allocate(c.Target.Self, 1));
                if (again is not null) c.Try("deallocate", () => allocator.Deallocate(again));
            });
        }),
        new("gntalloc-over-limit-at-once", "one allocation larger than gntalloc's limit is ENOSPC", c =>
        {
            WithAllocatorLimit(c, 16, () => c.Try("allocate 17", () => c.Allocator().Allocate(c.Target.Self, 17)));
        }),
        new("gntalloc-limit-shared-by-instances", "gntalloc's limit counts the grants of every instance together", c =>
        {
            WithAllocatorLimit(c, 16, () =>
            {
                var one = c.Allocator();
                var two = c.Allocator();
                c.Try("allocate 10 on one instance", () => one.Allocate(c.Target.Self, 10));
                c.Try("allocate 10 on another", () => two.Allocate(c.Target.Self, 10));
                c.Try("allocate 6 on another", () => two.Allocate(c.Target.Self, 6));
            });
        }),
        new("gntalloc-deallocate-unknown", "deallocating what this instance does not hold is EINVAL", c =>
        {
            var one = c.Allocator();
            var two = c.Allocator();
            var grant = one.Allocate(c.Target.Self, 1);
            c.Try("deallocate on the other instance", () => two.Deallocate(grant));
            c.Try("deallocate", () => one.Deallocate(grant));
            c.Try("deallocate again", () => one.Deallocate(grant));
        }),
        new("grant-table-full", "granting until the grant table is full ends in ENOSPC (32768 v1 entries); each failed allocation leaves gntalloc's count one low, so it refuses everything until reloaded", c =>
        {
            WithAllocatorLimit(c, 1 << 20, () =>
            {
                var allocator = c.Allocator();
                var held = new List<GrantAllocation>();
                Errno? refusal = null;
                while (refusal is null && held.Count < 64)
                {
                    try { held.Add(allocator.Allocate(c.Target.Self, 1024)); }
                    catch (GntdevException e) { refusal = e.Errno; }
                }
                int total = held.Count * 1024;
                // Top up one page at a time to find where the table ends.
                while (refusal is not null && held.Count < 2000)
                {
                    try { held.Add(allocator.Allocate(c.Target.Self, 1)); total++; }
                    catch (GntdevException) { break; }
                }
                c.See("refused with", refusal is null ? "nothing" : refusal.Value.ToString());
                c.See("granted at least 32000 refs", total >= 32000);
                c.See("granted at most 32768 refs", total <= 32768);
                c.Measure("granted refs when full", total);
                foreach (var a in held) allocator.Deallocate(a);
                c.Try("allocate after freeing", () => allocator.Deallocate(allocator.Allocate(c.Target.Self, 1024)));
                allocator.Dispose();
                c.Try("reload xen-gntalloc", c.Target.ReloadGrantAllocator);
                var fresh = c.Allocator();
                c.Try("allocate after the reload", () => fresh.Deallocate(fresh.Allocate(c.Target.Self, 1024)));
            });
        }),
        new("gntdev-limit-on-maps-and-imports", "gntdev's page limit bounds maps and imports too (EINVAL beyond)", c =>
        {
            ExportCases.WithPageLimit(c, 8, () =>
            {
                var dev = c.Gntdev();
                var grant = c.Grant(c.Allocator(), 9, pattern: 70);
                c.Try("map 9", () => dev.MapGrantRefs(c.Target.Self, [.. grant.Refs]));
                var map = c.Try("map 8", () => dev.MapGrantRefs(c.Target.Self, [.. grant.Refs.Take(8)]));
                if (map is not null) c.Try("unmap", () => dev.UnmapGrantRefs(map));
                var buffer = c.HostBuffer(9, pattern: 71);
                c.Try("import 9", () => dev.ImportDmaBuf(buffer.Fd, 9, c.Target.Self));
            });
        }),
    ];

    private static void WithAllocatorLimit(CaseContext c, int limit, Action body)
    {
        int previous = c.Target.AllocatorLimit;
        c.Target.AllocatorLimit = limit;
        try
        {
            body();
            c.RunCleanup();
        }
        finally
        {
            c.Target.AllocatorLimit = previous;
        }
    }
}
