using Akka.Actor;
using BufferActors.Actors;
using BufferActors.Actors.Api;
using BufferActors.Actors.Supervision;
using BufferActors.Native;

namespace BufferActors.Tests.Actors;

/// <summary>
/// The client sends a lifecycle's commands straight to its domain's supervisor once a lifecycle of that
/// domain answered it, and a supervisor that is gone is answered for, not waited on.
/// </summary>
public sealed class ClientRoutingTests : LifecycleTest
{
    /// <summary>Stands where the client expects the manager: counts what passes, and can be pointed at another manager.</summary>
    private sealed class CountingFront(IActorRef target) : UntypedActor
    {
        private IActorRef _target = target;
        private int _passed;

        protected override void OnReceive(object message)
        {
            switch (message)
            {
                case IActorRef next: _target = next; break;
                case "count": Sender.Tell(_passed); break;
                default:
                    _passed++;
                    _target.Forward(message);
                    break;
            }
        }
    }

    [Fact]
    public async Task AfterTheFirstAnswerOfADomainItsCommandsSkipTheManager()
    {
        var front = Sys.ActorOf(Props.Create(() => new CountingFront(Manager)));
        var client = new BufferActorsClient(Sys, front, TimeSpan.FromSeconds(5));
        var export = await client.ExportAsync(Dom1, Share(2));
        var device = Display.Attach(Process, export.Fd);
        device.Map(DmaDirection.ToDevice);
        await client.AttachAsync(export.Id, "display", DmaDirection.ToDevice);
        device.Detach();
        await client.DetachAsync(export.Id, "display");
        Assert.Equal("Exported", (await client.StatusAsync(export.Id)).State);
        await client.ReleaseAsync(export.Id);
        Assert.NotEqual(WaitReleasedResult.TimedOut, await client.WaitReleasedAsync(export.Id, TimeSpan.FromSeconds(5)));
        Assert.Equal(1, await front.Ask<int>("count", TimeSpan.FromSeconds(3))); // the export alone

        // A domain the client has not heard from yet goes through the manager.
        var other = await Assert.ThrowsAsync<BufferActorsException>(() => client.ReleaseAsync(new LifecycleId(LifecycleKind.Export, new DomainId(9), 1)));
        Assert.Equal(ErrorCode.NotFound, other.Code);
        Assert.Equal(2, await front.Ask<int>("count", TimeSpan.FromSeconds(3)));
        await AwaitNoLiveLifecycles();
        AssertLedgerAtBaseline();
    }

    [Fact]
    public async Task ASupervisorThatIsGoneIsAnsweredForAndTheNextAnswerPointsToItsSuccessor()
    {
        var first = Sys.ActorOf(BufferManager.Props(Session), "buffers-first");
        var front = Sys.ActorOf(Props.Create(() => new CountingFront(first)));
        var client = new BufferActorsClient(Sys, front, TimeSpan.FromSeconds(5));
        var old = await client.ExportAsync(Dom1, Share(2));

        // The manager goes, with its supervisors and lifecycles (whose PostStop releases the export); another takes over.
        Watch(first);
        Sys.Stop(first);
        ExpectTerminated(first);
        front.Tell(Manager);

        // The command for the old lifecycle reaches the stopped supervisor, lands in dead letters, and is answered.
        Assert.Equal(WaitReleasedResult.NotFound, await client.WaitReleasedAsync(old.Id, TimeSpan.FromSeconds(30)));
        var refused = await Assert.ThrowsAsync<BufferActorsException>(() => client.AttachAsync(old.Id, "display", DmaDirection.ToDevice));
        Assert.Equal(ErrorCode.NotFound, refused.Code);

        // The next export of the domain is answered by a lifecycle of the new manager, and its commands go there.
        var next = await client.ExportAsync(Dom1, Share(2));
        Assert.Equal(1, (await client.AttachAsync(next.Id, "display", DmaDirection.ToDevice)).Attachments);
        await client.DetachAsync(next.Id, "display");
        await client.ReleaseAsync(next.Id);
        Assert.NotEqual(WaitReleasedResult.TimedOut, await client.WaitReleasedAsync(next.Id, TimeSpan.FromSeconds(5)));
        await AwaitNoLiveLifecycles();
        AssertLedgerAtBaseline();
    }
}
