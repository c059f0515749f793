using Akka.Actor;
using BufferActors.Actors;
using BufferActors.Actors.Api;
using BufferActors.Native;
using BufferActors.Native.Simulation;

namespace BufferActors.Tests.Actors;

public sealed class ExportLifecycleTests : LifecycleTest
{
    [Fact]
    public async Task ReleaseWaitsForEveryAttachment_NeverUnmappingWhileAttached()
    {
        var refs = Share(4);
        var export = await Client.ExportAsync(Dom1, refs);
        var device = Display.Attach(Process, export.Fd);
        device.Map(DmaDirection.ToDevice);
        await Client.AttachAsync(export.Id, "display", DmaDirection.ToDevice);

        var accepted = await Client.ReleaseAsync(export.Id);
        Assert.Equal(1, accepted.PendingAttachments);
        Assert.Equal(WaitReleasedResult.TimedOut, await Client.WaitReleasedAsync(export.Id, TimeSpan.FromMilliseconds(50)));
        Assert.All(refs, r => Assert.True(Frontend.IsInUse(r)));

        var waiter = Client.WaitReleasedAsync(export.Id, TimeSpan.FromSeconds(5));
        device.Detach();
        await Client.DetachAsync(export.Id, "display");
        Assert.Equal(WaitReleasedResult.Released, await waiter);
        Assert.Equal(WaitReleasedResult.NotFound, await Client.WaitReleasedAsync(export.Id, TimeSpan.Zero));
        await AwaitNoLiveLifecycles();
        AssertLedgerAtBaseline();
    }

    [Theory]
    [InlineData(DmaBufFlags.WriteCombine)]
    [InlineData(DmaBufFlags.Coherent)]
    public async Task ReservationIsRestoredAfterEveryDmaBackedRelease(DmaBufFlags flags)
    {
        var export = await Client.ExportAsync(Dom1, Share(8), flags);
        Assert.Equal(-8, Sim.Ledger().ReservationPages);
        await Client.ReleaseAsync(export.Id);
        // Released, or NotFound if the lifecycle already finished: both mean released.
        Assert.NotEqual(WaitReleasedResult.TimedOut, await Client.WaitReleasedAsync(export.Id, TimeSpan.FromSeconds(5)));
        await AwaitNoLiveLifecycles();
        Assert.Equal(0, Sim.Ledger().ReservationPages);
        AssertLedgerAtBaseline();
    }

    [Fact]
    public async Task EveryWaitIsAnsweredEvenWhenItRacesTheRelease()
    {
        var refs = Share(2);
        for (int i = 0; i < 50; i++)
        {
            var export = await Client.ExportAsync(Dom1, refs);
            var release = Client.ReleaseAsync(export.Id);
            var wait = Client.WaitReleasedAsync(export.Id, TimeSpan.FromSeconds(2));
            var status = Client.StatusAsync(export.Id).ContinueWith(t => t.IsCompletedSuccessfully || t.Exception?.InnerException is BufferActorsException);
            await release;
            Assert.NotEqual(WaitReleasedResult.TimedOut, await wait);
            Assert.True(await status, "a status request racing the release went unanswered");
        }
        await AwaitNoLiveLifecycles();
        AssertLedgerAtBaseline();
    }

    [Fact]
    public async Task CommandsThatReachAStoppedLifecycleAreAnsweredNotLeftToTimeOut()
    {
        var export = await Client.ExportAsync(Dom1, Share(2));
        var lifecycle = await Sys.ActorSelection($"/user/buffers/domain-1/{export.Id.ActorName}").ResolveOne(TimeSpan.FromSeconds(3));
        Watch(lifecycle);
        lifecycle.Tell(Akka.Actor.PoisonPill.Instance, Akka.Actor.ActorRefs.NoSender); // stopped the hard way, as by a failure
        ExpectTerminated(lifecycle);

        // Straight to the dead actor: the message lands in dead letters, and is answered from there.
        var answer = await lifecycle.Ask<object>(new BufferActors.Actors.Lifecycles.ExportedBuffer.WaitReleased(export.Id, TimeSpan.FromSeconds(30)), TimeSpan.FromSeconds(5));
        Assert.Equal(WaitReleasedResult.NotFound, Assert.IsType<BufferActors.Actors.Lifecycles.ExportedBuffer.WaitResult>(answer).Result);
        var status = await lifecycle.Ask<object>(new BufferActors.Actors.Lifecycles.LifecycleStatus.Get(export.Id), TimeSpan.FromSeconds(5));
        Assert.Equal(ErrorCode.NotFound, Assert.IsType<OperationFailed>(status).Code);
        await AwaitNoLiveLifecycles();
        AssertLedgerAtBaseline();
    }

    [Fact]
    public async Task AHolderOutsideOurAccountingIsPolledUntilItLetsGo()
    {
        var export = await Client.ExportAsync(Dom1, Share(2));
        var stray = Display.Attach(Process, export.Fd); // the host never told us about this one
        await Client.ReleaseAsync(export.Id);
        var status = await Client.StatusAsync(export.Id);
        Assert.Equal("AwaitingExternalRelease", status.State);
        var waiter = Client.WaitReleasedAsync(export.Id, TimeSpan.FromSeconds(5));
        stray.Detach();
        Assert.Equal(WaitReleasedResult.Released, await waiter);
        await AwaitNoLiveLifecycles();
        AssertLedgerAtBaseline();
    }

    [Fact]
    public async Task DeviceErrorsComeBackTypedAndChangeNothing()
    {
        var refs = Share(3);
        Revoke(refs[1]); // revoked before the export
        var e = await Assert.ThrowsAsync<BufferActorsException>(() => Client.ExportAsync(Dom1, refs));
        Assert.Equal(ErrorCode.Device, e.Code);
        Assert.Equal(Errno.EINVAL, e.Failure.Errno);
        Assert.Equal(GrantStatus.BadGntref, e.Failure.GrantStatus);
        await AwaitNoLiveLifecycles();
        AssertLedgerAtBaseline();
    }

    [Fact]
    public async Task BadRequestsAreRefusedWithTypedErrors()
    {
        var refs = Share(1);
        Assert.Equal(ErrorCode.InvalidArgument, (await Assert.ThrowsAsync<BufferActorsException>(() => Client.ExportAsync(new DomainId(0x7FF0), refs))).Code);
        Assert.Equal(ErrorCode.InvalidArgument, (await Assert.ThrowsAsync<BufferActorsException>(() => Client.ExportAsync(Dom1, []))).Code);
        Assert.Equal(ErrorCode.InvalidArgument, (await Assert.ThrowsAsync<BufferActorsException>(() => Client.ExportAsync(Dom1, new uint[65537]))).Code);
        var export = await Client.ExportAsync(Dom1, refs);
        Assert.Equal(ErrorCode.InvalidArgument, (await Assert.ThrowsAsync<BufferActorsException>(() => Client.AttachAsync(export.Id, "display", DmaDirection.None))).Code);
        await Client.AttachAsync(export.Id, "display", DmaDirection.ToDevice);
        var busy = await Assert.ThrowsAsync<BufferActorsException>(() => Client.AttachAsync(export.Id, "display", DmaDirection.FromDevice));
        Assert.Equal(Errno.EBUSY, busy.Failure.Errno);
        Assert.Equal(ErrorCode.NotFound, (await Assert.ThrowsAsync<BufferActorsException>(() => Client.DetachAsync(export.Id, "camera"))).Code);
        await Client.DetachAsync(export.Id, "display");
        var map = await Client.MapAsync(Dom1, refs, readOnly: true);
        Assert.Equal(ErrorCode.InvalidArgument, (await Assert.ThrowsAsync<BufferActorsException>(() => Client.WaitReleasedAsync(map.Id, TimeSpan.Zero))).Code);
        await Client.UnmapAsync(map.Id);
        await Client.ReleaseAsync(export.Id);
        Assert.Equal(ErrorCode.NotFound, (await Assert.ThrowsAsync<BufferActorsException>(() => Client.ReleaseAsync(export.Id))).Code);
        await AwaitNoLiveLifecycles();
        AssertLedgerAtBaseline();
    }

    [Fact]
    public async Task QuotasAreRefusedBeforeTheDevice()
    {
        var quotas = new BufferActors.Actors.Supervision.DomainLifecycles.Quotas(MaxBuffers: 2, MaxPages: 10);
        var manager = Sys.ActorOf(BufferActors.Actors.Supervision.BufferManager.Props(Session,
            new BufferActors.Actors.Supervision.BufferManager.Settings(quotas, BufferActors.Actors.Lifecycles.ExportSettings.Default)));
        var client = new BufferActors.Actors.Api.BufferActorsClient(Sys, manager);
        var a = await client.ExportAsync(Dom1, Share(4));
        var b = await client.ExportAsync(Dom1, Share(4));
        var third = await Assert.ThrowsAsync<BufferActorsException>(() => client.ExportAsync(Dom1, Share(1)));
        Assert.Equal(ErrorCode.QuotaExceeded, third.Code);
        Assert.Equal(2, Sim.Ledger().Exports);
        await client.ReleaseAsync(a.Id);
        await AwaitAssertAsync(() => Assert.Equal(1, Sim.Ledger().Exports));
        var pages = await Assert.ThrowsAsync<BufferActorsException>(() => client.ExportAsync(Dom1, Share(7))); // 4 + 7 > 10
        Assert.Equal(ErrorCode.QuotaExceeded, pages.Code);
        await client.ReleaseAsync(b.Id);
        await AwaitAssertAsync(() => Assert.Equal(0, Sim.Ledger().Exports));
        AssertLedgerAtBaseline();
    }
}
