using Akka.Actor;
using BufferActors.Actors;
using BufferActors.Actors.Api;
using BufferActors.Actors.Lifecycles;
using BufferActors.Native;

namespace BufferActors.Tests.Actors;

/// <summary>How a client request ends when the actors do not answer it as usual.</summary>
public sealed class ClientRequestTests : Akka.TestKit.Xunit2.TestKit
{
    private static readonly LifecycleId Someone = new(LifecycleKind.Export, new DomainId(1), 1);

    private sealed class Silent : UntypedActor
    {
        protected override void OnReceive(object message)
        {
        }
    }

    private sealed class Answers(object reply) : UntypedActor
    {
        protected override void OnReceive(object message) => Sender.Tell(reply);
    }

    [Fact]
    public async Task AnUnansweredRequestTimesOutNamingTheRequest()
    {
        var client = new BufferActorsClient(Sys, Sys.ActorOf(Props.Create(() => new Silent())), TimeSpan.FromMilliseconds(200));
        var e = await Assert.ThrowsAsync<TimeoutException>(() => client.DetachAsync(Someone, "display"));
        Assert.Contains(nameof(BufferActors.Actors.Lifecycles.ExportedBuffer.Detach), e.Message);
    }

    [Theory]
    [InlineData(0L)]
    [InlineData(-20_000L)]            // -2 ms
    [InlineData(42_949_672_950_000L)] // 2^32-1 ms: longer than any .NET timer
    [InlineData(long.MaxValue)]
    public void ARequestTimeOutNoTimerCanSetIsRefusedWhenTheClientIsMade(long ticks)
    {
        var manager = Sys.ActorOf(Props.Create(() => new Silent()));
        Assert.Throws<ArgumentOutOfRangeException>(() => new BufferActorsClient(Sys, manager, TimeSpan.FromTicks(ticks)));
        _ = new BufferActorsClient(Sys, manager, Timeout.InfiniteTimeSpan);
        _ = new BufferActorsClient(Sys, manager, TimeSpan.FromMilliseconds(uint.MaxValue - 1));
    }

    [Theory]
    [InlineData(-20_000L)]            // -2 ms
    [InlineData(42_949_672_950_000L)] // 2^32-1 ms: longer than the longest answer timer
    public void AnAnswerLimitNoTimerCanKeepIsRefusedBeforeAnythingIsSent(long ticks)
    {
        var probe = CreateTestProbe();
        var client = new BufferActorsClient(Sys, probe.Ref);
        // Thrown by the call itself: no task, no message.
        Assert.Throws<ArgumentOutOfRangeException>(() => { _ = client.SendAsync<LifecycleStatus>(new LifecycleStatus.Get(Someone), TimeSpan.FromTicks(ticks)); });
        probe.ExpectNoMsg(TimeSpan.FromMilliseconds(100));
    }

    [Fact]
    public async Task ACancelledRequestThrowsOperationCanceled()
    {
        var client = new BufferActorsClient(Sys, Sys.ActorOf(Props.Create(() => new Silent())));
        using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(100));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => client.ReleaseAsync(Someone, cts.Token));
    }

    [Fact]
    public async Task ARefusalIsATypedErrorAndAnUnexpectedReplyIsNotTakenForAnAnswer()
    {
        var refusing = new BufferActorsClient(Sys, Sys.ActorOf(Props.Create(() => new Answers(new OperationFailed(ErrorCode.NotFound, "gone", null)))));
        Assert.Equal(ErrorCode.NotFound, (await Assert.ThrowsAsync<BufferActorsException>(() => refusing.ReleaseAsync(Someone))).Code);
        var confused = new BufferActorsClient(Sys, Sys.ActorOf(Props.Create(() => new Answers("hello"))));
        await Assert.ThrowsAsync<InvalidOperationException>(() => confused.ReleaseAsync(Someone));
    }

    [Fact]
    public async Task EachRequestGetsItsOwnAnswerUnderConcurrency()
    {
        // Echoes the id it was asked about: a reply must never reach another request's promise.
        var echo = Sys.ActorOf(Props.Create(() => new EchoStatus()));
        var client = new BufferActorsClient(Sys, echo);
        var ids = Enumerable.Range(1, 500).Select(i => new LifecycleId(LifecycleKind.Export, new DomainId(1), i)).ToList();
        var answers = await Task.WhenAll(ids.Select(id => Task.Run(() => client.StatusAsync(id))));
        Assert.Equal(ids, answers.Select(a => a.Id));
    }

    [Fact]
    public async Task AnAnswerGivenOnTheCallersThreadIsReadAtOnce_AndARefusalFailsTheTaskNotTheCall()
    {
        // Actors on the inline dispatcher answer before Tell returns, on a thread-pool caller's thread.
        using var system = ActorSystem.Create("client-inline", BufferActors.Actors.Dispatch.InlineDispatcher.Config);
        var inline = BufferActors.Actors.Dispatch.InlineDispatcher.DispatcherId;
        var answering = new BufferActorsClient(system, system.ActorOf(Props.Create(() => new EchoStatus()).WithDispatcher(inline)));
        var refusing = new BufferActorsClient(system, system.ActorOf(Props.Create(() => new Answers(new OperationFailed(ErrorCode.NotFound, "gone", null))).WithDispatcher(inline)));
        // A top-level actor starts asynchronously: until it has, messages to it wait in its ref.
        await answering.StatusAsync(Someone);
        await Assert.ThrowsAsync<BufferActorsException>(() => refusing.ReleaseAsync(Someone));
        await Task.Run(async () =>
        {
            var status = answering.StatusAsync(Someone);
            Assert.True(status.IsCompletedSuccessfully, "the answer was there when the call returned");
            Assert.Equal(Someone, (await status).Id);
            var refused = refusing.ReleaseAsync(Someone); // does not throw here
            Assert.True(refused.IsFaulted);
            Assert.Equal(ErrorCode.NotFound, (await Assert.ThrowsAsync<BufferActorsException>(() => refused)).Code);
        });
        await system.Terminate();
    }

    private sealed class EchoStatus : UntypedActor
    {
        protected override void OnReceive(object message)
        {
            var get = (LifecycleStatus.Get)message;
            Sender.Tell(new LifecycleStatus(get.Id, "Exported", 3, 1, 0, false));
        }
    }
}
