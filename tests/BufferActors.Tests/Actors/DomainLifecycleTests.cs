using Akka.Actor;
using BufferActors.Actors.Api;
using BufferActors.Actors.Supervision;
using BufferActors.Native;

namespace BufferActors.Tests.Actors;

public sealed class DomainLifecycleTests : LifecycleTest
{
    [Fact]
    public async Task ImportGrantsAreEndedBeforeTheirPagesAreFreed()
    {
        var camera = Sim.AddDevice("camera");
        int fd = camera.AllocateBuffer(Process, 4);
        var import = await Client.ImportAsync(Dom1, fd, 4);
        Gntdev.CloseFd(fd);
        int handle = Frontend.MapForeign(DomainId.Dom0, import.Refs[3]);
        await Client.ReleaseImportAsync(import.Id);
        Assert.Equal(1, Sim.Ledger().DeferredRefs);
        Assert.Equal(1, Sim.Ledger().DmaBufs); // the page is pinned, not freed
        Frontend.UnmapForeign(handle);
        await AwaitNoLiveLifecycles();
        AssertLedgerAtBaseline(); // ticks the deferred list; Violations would list any page freed while granted
    }

    [Fact]
    public async Task DomainDeathEndsEverythingItOwnsInDependencyOrder()
    {
        var camera = Sim.AddDevice("camera");
        int fd = camera.AllocateBuffer(Process, 2);
        await Client.ImportAsync(Dom1, fd, 2);
        Gntdev.CloseFd(fd);
        await Client.MapAsync(Dom1, Share(1));
        var held = await Client.ExportAsync(Dom1, Share(3), DmaBufFlags.WriteCombine);
        var free = await Client.ExportAsync(Dom1, Share(2));
        var device = Display.Attach(Process, held.Fd);
        await Client.AttachAsync(held.Id, "display", DmaDirection.ToDevice);

        Sim.DestroyDomain(Dom1);
        var started = await Client.DomainDiedAsync(Dom1);
        Assert.Equal(4, started.Lifecycles);
        await AwaitAssertAsync(() =>
        {
            var l = Sim.Ledger();
            Assert.Equal(0, l.Imports);
            Assert.Equal(1, l.Exports); // the one the display still holds
            Assert.Equal(1, l.Maps);
        });
        Assert.Equal(WaitReleasedResult.NotFound, await Client.WaitReleasedAsync(free.Id, TimeSpan.Zero));
        var refused = await Assert.ThrowsAsync<BufferActors.Actors.BufferActorsException>(() => Client.ExportAsync(Dom1, [8]));
        Assert.Equal(BufferActors.Actors.ErrorCode.DomainDead, refused.Code);

        device.Detach();
        await Client.DetachAsync(held.Id, "display");
        await AwaitNoLiveLifecycles();
        AssertLedgerAtBaseline();
    }

    [Fact]
    public async Task HostShutdownLeavesTheLedgerAtBaseline()
    {
        var system = ActorSystem.Create("host-under-test");
        var client = new BufferActorsClient(system, system.ActorOf(BufferManager.Props(Session)));
        var camera = Sim.AddDevice("camera");
        int fd = camera.AllocateBuffer(Process, 2);
        await client.ImportAsync(Dom1, fd, 2);
        Gntdev.CloseFd(fd);
        await client.MapAsync(Dom1, Share(2));
        await client.ExportAsync(Dom1, Share(4), DmaBufFlags.Coherent);
        Assert.NotEqual(0, Sim.Ledger().Exports);

        await CoordinatedShutdown.Get(system).Run(CoordinatedShutdown.ClrExitReason.Instance);
        AssertLedgerAtBaseline();
    }
}
