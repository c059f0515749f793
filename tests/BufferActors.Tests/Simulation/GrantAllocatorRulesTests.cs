using BufferActors.Native;
using BufferActors.Native.Simulation;

namespace BufferActors.Tests.Simulation;

/// <summary>
/// The simulated <c>/dev/xen/gntalloc</c> (<c>drivers/xen/gntalloc.c</c>): the frontend (d1) grants pages to
/// the backend through it. The real-kernel lane's gntalloc-* and grant-table-full cases pin the same rules.
/// </summary>
public sealed class GrantAllocatorRulesTests : SimulatorTest
{
    [Fact]
    public void AllocatedPagesAreZeroedAndMapWithWhatTheFrontendWrites()
    {
        using (var gntalloc = Sim.OpenGrantAllocator(Frontend))
        {
            var grant = gntalloc.Allocate(DomainId.Dom0, 3);
            Assert.All(Enumerable.Range(0, 3), p => Assert.Equal(0, grant.Pages.Page(p)[100]));
            grant.Pages.Page(2)[100] = 0x77;
            var map = Gntdev.MapGrantRefs(Dom1, [.. grant.Refs]);
            Assert.Equal(0x77, map.Pages.Page(2)[100]);
            Gntdev.UnmapGrantRefs(map);
            gntalloc.Deallocate(grant);
        }
        AssertLedgerAtBaseline();
    }

    [Fact]
    public void TheLimitCountsEveryInstanceTogether_BeyondItIsEnospc()
    {
        Frontend.GntallocLimit = 16;
        using (var one = Sim.OpenGrantAllocator(Frontend))
        using (var two = Sim.OpenGrantAllocator(Frontend))
        {
            Fails(Errno.ENOSPC, () => one.Allocate(DomainId.Dom0, 17));
            var ten = one.Allocate(DomainId.Dom0, 10);
            Fails(Errno.ENOSPC, () => two.Allocate(DomainId.Dom0, 7));
            var six = two.Allocate(DomainId.Dom0, 6);
            one.Deallocate(ten);
            two.Deallocate(two.Allocate(DomainId.Dom0, 10));
            two.Deallocate(six);
        }
        AssertLedgerAtBaseline();
    }

    [Fact]
    public void DeallocatingWhatThisInstanceDoesNotHoldIsEinval()
    {
        using (var one = Sim.OpenGrantAllocator(Frontend))
        using (var two = Sim.OpenGrantAllocator(Frontend))
        {
            var grant = one.Allocate(DomainId.Dom0, 1);
            Fails(Errno.EINVAL, () => two.Deallocate(grant));
            one.Deallocate(grant);
            Fails(Errno.EINVAL, () => one.Deallocate(grant));
        }
        AssertLedgerAtBaseline();
    }

    [Fact]
    public void DeallocatingWhileTheBackendMapsIsDeferred_ThePageLivesUntilTheUnmap()
    {
        using (var gntalloc = Sim.OpenGrantAllocator(Frontend))
        {
            var grant = gntalloc.Allocate(DomainId.Dom0, 1);
            grant.Pages.Page(0)[0] = 0x21;
            var map = Gntdev.MapGrantRefs(Dom1, [.. grant.Refs]);
            gntalloc.Deallocate(grant);
            Assert.Single(Sim.DeferredEndAccesses());
            Assert.Equal(0x21, map.Pages.Page(0)[0]); // the page is not freed under the backend
            Gntdev.UnmapGrantRefs(map);
            Sim.Tick();
            Assert.Empty(Sim.DeferredEndAccesses());
        }
        AssertLedgerAtBaseline();
    }

    [Fact]
    public void UnmapNotifyClearsTheByteWhenTheGrantIsDeleted_ForABackendStillMapping()
    {
        using (var gntalloc = Sim.OpenGrantAllocator(Frontend))
        {
            var grant = gntalloc.Allocate(DomainId.Dom0, 2);
            grant.Pages.Page(1)[9] = 0x42;
            var map = Gntdev.MapGrantRefs(Dom1, [.. grant.Refs]);
            Fails(Errno.ENOENT, () => gntalloc.SetUnmapNotify(grant, 5 * PageView.PageSize, UnmapNotifyActions.ClearByte));
            gntalloc.SetUnmapNotify(grant, PageView.PageSize + 9, UnmapNotifyActions.ClearByte);
            gntalloc.Deallocate(grant);
            Assert.Equal(0, map.Pages.Page(1)[9]);
            Gntdev.UnmapGrantRefs(map);
            Sim.Tick();
        }
        AssertLedgerAtBaseline();
    }

    [Fact]
    public void AFailedAllocationLeavesTheCountOneLow_SoEveryLaterOneIsEnospcUntilReloaded()
    {
        // gntalloc's add_grefs undo takes the failed pages off gref_size twice; gref_size is an int compared
        // with the unsigned limit, so at -1 every allocation is refused. Seen on the real kernel (grant-table-full).
        using var sim = new XenSimulator(new SimulatorOptions { GrantTableEntries = 8 + 4 });
        var baseline = sim.Ledger();
        var gntalloc = sim.OpenGrantAllocator();
        var held = gntalloc.Allocate(DomainId.Dom0, 3);
        Fails(Errno.ENOSPC, () => gntalloc.Allocate(DomainId.Dom0, 2)); // the table has one entry left
        gntalloc.Deallocate(held);
        Fails(Errno.ENOSPC, () => gntalloc.Allocate(DomainId.Dom0, 1)); // nothing is held, yet refused
        Fails(Errno.EBUSY, sim.Backend.ReloadGntalloc);
        gntalloc.Dispose();
        sim.Backend.ReloadGntalloc();
        using (var fresh = sim.OpenGrantAllocator()) fresh.Deallocate(fresh.Allocate(DomainId.Dom0, 4));
        Assert.Empty(sim.Violations);
        Assert.Empty(sim.Ledger().DifferencesFrom(baseline));
    }

    [Fact]
    public void ClosingTheInstanceDeallocatesEverything()
    {
        var gntalloc = Sim.OpenGrantAllocator(Frontend);
        gntalloc.Allocate(DomainId.Dom0, 2);
        gntalloc.Allocate(DomainId.Dom0, 1);
        gntalloc.Dispose();
        Fails(Errno.EBADF, () => gntalloc.Allocate(DomainId.Dom0, 1));
        AssertLedgerAtBaseline();
    }
}
