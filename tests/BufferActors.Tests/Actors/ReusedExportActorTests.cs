using Akka.Actor;
using BufferActors.Actors;
using BufferActors.Actors.Api;
using BufferActors.Actors.Lifecycles;
using BufferActors.Actors.Supervision;
using BufferActors.Native;

namespace BufferActors.Tests.Actors;

/// <summary>
/// A domain supervisor keeps export actors that finished their lifecycle and hands them the next exports
/// (<see cref="ExportSettings.ReusedActors"/>): a reused actor starts clean, answers for its last lifecycle
/// as for a finished one, and idle ones go when the domain dies.
/// </summary>
public sealed class ReusedExportActorTests : LifecycleTest
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(3);

    [Fact]
    public async Task AFinishedExportActorRunsTheNextExport_AndAnswersForItsLastLifecycleAsFinished()
    {
        var refs = Share(2);
        var first = await Client.ExportAsync(Dom1, refs, DmaBufFlags.WriteCombine);
        await Finish(Client, first);
        var actor = await Sys.ActorSelection($"/user/buffers/domain-1/{first.Id.ActorName}").ResolveOne(Patience);

        var second = await Client.ExportAsync(Dom1, refs);
        Assert.Equal(DmaBufFlags.None, second.Flags);
        await Assert.ThrowsAsync<ActorNotFoundException>(() => Sys.ActorSelection($"/user/buffers/domain-1/{second.Id.ActorName}").ResolveOne(Patience));
        // The same actor runs the second lifecycle, from a clean state: no attachment, no reservation.
        var status = Assert.IsType<LifecycleStatus>(await actor.Ask<object>(new LifecycleStatus.Get(second.Id), Patience));
        Assert.Equal(("Exported", second.Fd, 0), (status.State, status.Fd, status.Attachments));
        Assert.Equal(0, Sim.Ledger().ReservationPages);

        // Commands for its last lifecycle, even sent straight to it, are answered as for a finished one.
        var attach = await actor.Ask<object>(new ExportedBuffer.Attach(first.Id, "display", DmaDirection.ToDevice), Patience);
        Assert.Equal(ErrorCode.NotFound, Assert.IsType<OperationFailed>(attach).Code);
        var wait = await actor.Ask<object>(new ExportedBuffer.WaitReleased(first.Id, TimeSpan.FromSeconds(30)), Patience);
        Assert.Equal(WaitReleasedResult.NotFound, Assert.IsType<ExportedBuffer.WaitResult>(wait).Result);

        // ... and leave the second lifecycle as it was.
        var device = Display.Attach(Process, second.Fd);
        device.Map(DmaDirection.ToDevice);
        Assert.Equal(1, (await Client.AttachAsync(second.Id, "display", DmaDirection.ToDevice)).Attachments);
        device.Detach();
        await Client.DetachAsync(second.Id, "display");
        await Finish(Client, second);
        await AwaitNoLiveLifecycles();
        AssertLedgerAtBaseline();
    }

    [Fact]
    public async Task ASupervisorKeepsNoMoreIdleExportActorsThanConfigured()
    {
        var (client, path) = StartManager("buffers-keep-2", reused: 2);
        var refs = Enumerable.Range(0, 4).Select(_ => Share(1)).ToList();
        var exports = await Task.WhenAll(refs.Select(r => client.ExportAsync(Dom1, r)));
        await AwaitAssertAsync(() => Assert.Equal(4, Children(path).Count), Patience); // a slow reply is asked again
        foreach (var export in exports) await Finish(client, export);
        await AwaitAssertAsync(() => Assert.Equal(2, Children(path).Count), Patience);

        // The idle two run the next two exports; a third export needs a new actor.
        var again = await Task.WhenAll(refs.Take(3).Select(r => client.ExportAsync(Dom1, r)));
        await AwaitAssertAsync(() => Assert.Equal(3, Children(path).Count), Patience);
        foreach (var export in again) await Finish(client, export);
        await AwaitAssertAsync(() => Assert.Equal(2, Children(path).Count), Patience);
        await AwaitNoLiveLifecycles(client);
        AssertLedgerAtBaseline();
    }

    [Fact]
    public async Task WithNoReusedActorsAFinishedExportActorStops()
    {
        var (client, path) = StartManager("buffers-keep-0", reused: 0);
        var export = await client.ExportAsync(Dom1, Share(2));
        var actor = await Sys.ActorSelection($"{path}/{export.Id.ActorName}").ResolveOne(Patience);
        Watch(actor);
        await Finish(client, export);
        ExpectTerminated(actor);
        await AwaitNoLiveLifecycles(client);
        AssertLedgerAtBaseline();
    }

    [Fact]
    public async Task TheDeathOfTheDomainStopsItsIdleExportActors()
    {
        var actor = await WatchedIdleExportActor();
        await Client.DomainDiedAsync(Dom1);
        ExpectTerminated(actor);
        var refused = await Assert.ThrowsAsync<BufferActorsException>(() => Client.ExportAsync(Dom1, Share(1)));
        Assert.Equal(ErrorCode.DomainDead, refused.Code);
        AssertLedgerAtBaseline();
    }

    [Fact]
    public async Task AnExportHandedToAnActorThatJustStoppedIsAnsweredNotLost()
    {
        // The supervisor hands an idle actor an export just as that actor stops: the hand-over lands in dead letters.
        var actor = await WatchedIdleExportActor();
        actor.Tell(PoisonPill.Instance);
        ExpectTerminated(actor);
        var next = new LifecycleId(LifecycleKind.Export, Dom1, 1000);
        actor.Tell(new StartLifecycle(next, new ExportedBuffer.Export(Dom1, Share(1), DmaBufFlags.None), TestActor));
        var answer = ExpectMsg<OperationFailed>(Patience);
        Assert.Equal(ErrorCode.Stopped, answer.Code);
        Assert.Contains(next.ToString(), answer.Detail);
        await AwaitNoLiveLifecycles();
        AssertLedgerAtBaseline();
    }

    /// <summary>The actor of an export that ran to its end and now waits idle for the next one, watched by the test.</summary>
    private async Task<IActorRef> WatchedIdleExportActor()
    {
        var export = await Client.ExportAsync(Dom1, Share(2));
        await Finish(Client, export);
        var actor = await Sys.ActorSelection($"/user/buffers/domain-1/{export.Id.ActorName}").ResolveOne(Patience);
        Watch(actor);
        return actor;
    }

    /// <summary>Releases <paramref name="export"/> (nothing attached) and waits until it is released.</summary>
    private static async Task Finish(BufferActorsClient client, ExportedBuffer.Exported export)
    {
        await client.ReleaseAsync(export.Id);
        Assert.NotEqual(WaitReleasedResult.TimedOut, await client.WaitReleasedAsync(export.Id, Patience));
    }

    private (BufferActorsClient Client, string DomainPath) StartManager(string name, int reused)
    {
        var settings = BufferManager.Settings.Default with { Export = ExportSettings.Default with { ReusedActors = reused } };
        var client = new BufferActorsClient(Sys, Sys.ActorOf(BufferManager.Props(Session, settings), name), Patience);
        return (client, $"/user/{name}/domain-1");
    }

    /// <summary>The live children of the actor at <paramref name="path"/>.</summary>
    private List<IActorRef> Children(string path)
    {
        var probe = CreateTestProbe();
        Sys.ActorSelection($"{path}/*").Tell(new Identify(null), probe.Ref);
        return probe.ReceiveWhile(TimeSpan.FromMilliseconds(300), m => (m as ActorIdentity)?.Subject).Where(s => s is not null).ToList()!;
    }

    private async Task AwaitNoLiveLifecycles(BufferActorsClient client) =>
        await AwaitAssertAsync(async () => Assert.Equal(0, (await client.SnapshotAsync()).LiveLifecycles), Patience);
}
