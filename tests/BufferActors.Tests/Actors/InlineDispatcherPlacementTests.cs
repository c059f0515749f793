using Akka.Actor;
using Akka.Configuration;
using BufferActors.Actors.Dispatch;

namespace BufferActors.Tests.Actors;

/// <summary>Where <see cref="InlineDispatcher"/> runs a mailbox: on the sender's thread only where that is safe.</summary>
/// <remarks>
/// A plain actor system, not the TestKit's: the TestKit makes its test actor the current actor of the test's
/// threads (the implicit sender), so a test's Tell would count as sent from an actor of another dispatcher.
/// </remarks>
public sealed class InlineDispatcherPlacementTests : IDisposable
{
    private readonly ActorSystem _system = ActorSystem.Create("placement", InlineDispatcher.Config.WithFallback(ConfigurationFactory.ParseString("akka.loglevel = WARNING")));

    /// <inheritdoc />
    public void Dispose() => _system.Terminate().Wait(TimeSpan.FromSeconds(10));

    /// <summary>The thread currently inside a <see cref="Send"/>, if any.</summary>
    private static int _sendingThread = -1;

    /// <summary>Tells <paramref name="target"/> and reports whether it handled the message inside the Tell, on this thread.</summary>
    private static void Send(IActorRef target, TaskCompletionSource<bool> handledInside)
    {
        Volatile.Write(ref _sendingThread, Environment.CurrentManagedThreadId);
        try { target.Tell(handledInside); }
        finally { Volatile.Write(ref _sendingThread, -1); }
    }

    /// <summary>Answers whether it runs inside the sender's Tell.</summary>
    private sealed class Recorder : UntypedActor
    {
        protected override void OnReceive(object message) =>
            ((TaskCompletionSource<bool>)message).TrySetResult(Volatile.Read(ref _sendingThread) == Environment.CurrentManagedThreadId);
    }

    /// <summary>A thread-pool actor that sends on: an actor of another dispatcher.</summary>
    private sealed class Relay(IActorRef target) : UntypedActor
    {
        protected override void OnReceive(object message) => Send(target, (TaskCompletionSource<bool>)message);
    }

    private Task<IActorRef> InlineRecorder() => Started(Props.Create(() => new Recorder()).WithDispatcher(InlineDispatcher.DispatcherId));

    /// <summary>A top-level actor once it has started: until then its messages wait in a queue of Akka's, whatever the dispatcher.</summary>
    private async Task<IActorRef> Started(Props props)
    {
        // The answer leaves before the mailbox run that sent it ends; a message sent meanwhile is taken by
        // that run, on its thread. The dispatcher says when its runs end: the test goes on once none is left,
        // so that it sees where an idle mailbox runs.
        var dispatcher = (InlineDispatcher)_system.Dispatchers.Lookup(InlineDispatcher.DispatcherId);
        var idle = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        int running = 0;
        bool answered = false;
        dispatcher.RunStarting = () => Interlocked.Increment(ref running);
        dispatcher.RunEnded = () =>
        {
            if (Interlocked.Decrement(ref running) == 0 && Volatile.Read(ref answered)) idle.TrySetResult();
        };
        try
        {
            var actor = _system.ActorOf(props);
            await actor.Ask<ActorIdentity>(new Identify(null), TimeSpan.FromSeconds(5));
            Volatile.Write(ref answered, true);
            if (Volatile.Read(ref running) == 0) idle.TrySetResult();
            await idle.Task.WaitAsync(TimeSpan.FromSeconds(5));
            return actor;
        }
        finally
        {
            dispatcher.RunStarting = dispatcher.RunEnded = null;
        }
    }

    private static TaskCompletionSource<bool> NewProbe() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    [Fact]
    public async Task AThreadPoolCallerOutsideActorsRunsTheMailboxItself()
    {
        var recorder = await InlineRecorder();
        var probe = NewProbe();
        await Task.Run(() => Send(recorder, probe));
        Assert.True(await probe.Task.WaitAsync(TimeSpan.FromSeconds(5)));
    }

    [Fact]
    public async Task ADedicatedThreadHandsTheMailboxToThePool()
    {
        // Akka's scheduler fires timers from a dedicated thread: a lifecycle's handler must not hold it.
        var recorder = await InlineRecorder();
        var probe = NewProbe();
        var thread = new Thread(() => Send(recorder, probe));
        thread.Start();
        thread.Join();
        Assert.False(await probe.Task.WaitAsync(TimeSpan.FromSeconds(5)));
    }

    [Fact]
    public async Task AnActorOfAnotherDispatcherDoesNotRunIt()
    {
        // The journal answers writes from its own actor: its mailbox must not wait behind lifecycle work.
        var target = await InlineRecorder();
        var relay = await Started(Props.Create(() => new Relay(target)));
        var probe = NewProbe();
        relay.Tell(probe);
        Assert.False(await probe.Task.WaitAsync(TimeSpan.FromSeconds(5)));
    }

    [Fact]
    public async Task AnInlineActorRunsTheNextInlineActorNested()
    {
        var target = await InlineRecorder();
        var relay = await Started(Props.Create(() => new Relay(target)).WithDispatcher(InlineDispatcher.DispatcherId));
        var probe = NewProbe();
        await Task.Run(() => relay.Tell(probe));
        Assert.True(await probe.Task.WaitAsync(TimeSpan.FromSeconds(5)));
    }

    /// <summary>Blocks on its first message until released; records the inline nesting depth of every later one.</summary>
    private sealed class Gate(ManualResetEventSlim open, ManualResetEventSlim blocked, System.Collections.Concurrent.ConcurrentQueue<int> depths,
        int expected, TaskCompletionSource all) : UntypedActor
    {
        private bool _first = true;

        protected override void OnReceive(object message)
        {
            if (_first)
            {
                _first = false;
                blocked.Set();
                open.Wait(TimeSpan.FromSeconds(10));
                return;
            }
            depths.Enqueue(InlineDispatcher.Depth);
            if (depths.Count == expected) all.TrySetResult();
        }
    }

    [Fact]
    public async Task AMailboxPastItsThroughputGoesOnOnThePoolNotDeeperInTheCallersStack()
    {
        using var open = new ManualResetEventSlim();
        using var blocked = new ManualResetEventSlim();
        var depths = new System.Collections.Concurrent.ConcurrentQueue<int>();
        var all = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var gate = await Started(Props.Create(() => new Gate(open, blocked, depths, 350, all)).WithDispatcher(InlineDispatcher.DispatcherId));
        var thread = new Thread(() => gate.Tell("block")); // a dedicated thread: the run goes to the pool and blocks there
        thread.Start();
        thread.Join();
        Assert.True(blocked.Wait(TimeSpan.FromSeconds(5)), "the first message never reached the actor");
        for (int i = 0; i < 350; i++) gate.Tell(i); // queued behind the blocked run: more than three throughput batches
        open.Set();
        await all.Task.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(350, depths.Count);
        Assert.All(depths, d => Assert.Equal(1, d));
    }
}
