using Akka.Configuration;
using Akka.Dispatch;

namespace BufferActors.Actors.Dispatch;

/// <summary>
/// A dispatcher that runs an actor's mailbox on the thread that sent it a message, instead of handing
/// it to the thread pool. A backend's lifecycle step is a short chain of messages (client → manager →
/// domain supervisor → lifecycle → reply) around one synchronous device call; on the pool each hop is
/// a thread wake-up, and the device call runs on another core than the caller's, whose cache holds the
/// refs. Inline, the whole step runs on the caller's thread and the reply is there when the caller awaits it.
/// </summary>
/// <remarks>
/// Actor semantics are unchanged: the mailbox still lets one thread at a time process an actor, so a
/// message sent to an actor another thread is processing is queued and processed by that thread.
/// A run stays inline only where that is cheap and safe, and goes to the thread pool otherwise:
/// <list type="bullet">
/// <item>a thread-pool thread outside any actor (an API caller) or inside another actor of this
/// dispatcher (the step's next hop) runs it;</item>
/// <item>an actor of another dispatcher (the journal answering a write) does not: its own mailbox would
/// wait behind the lifecycle's device calls;</item>
/// <item>a dedicated thread (Akka's scheduler firing a timer, an application thread) does not either, unless it
/// opted in with <see cref="RunInlineOnThisThread"/> (a daemon's per-client reader);</item>
/// <item>a mailbox that used up its throughput (other senders' messages) goes on on the pool, and past
/// <see cref="MaxDepth"/> nested runs on one thread the run goes to the pool too: a caller does at most one
/// batch of each mailbox's work, and the stack cannot overflow.</item>
/// </list>
/// Configure with <see cref="Config"/>.
/// </remarks>
public sealed class InlineDispatcher(MessageDispatcherConfigurator configurator) : MessageDispatcher(configurator)
{
    /// <summary>Nested mailbox runs allowed on one thread before a run goes to the thread pool.</summary>
    public const int MaxDepth = 16;

    /// <summary>The dispatcher id <see cref="Config"/> defines.</summary>
    public const string DispatcherId = "bufferactors.inline-dispatcher";

    [ThreadStatic]
    private static int _depth;

    [ThreadStatic]
    private static IRunnable? _running; // the innermost mailbox this thread is running

    /// <summary>HOCON that defines the dispatcher under <see cref="DispatcherId"/>.</summary>
    public static Config Config { get; } = ConfigurationFactory.ParseString($$"""
        {{DispatcherId}} {
          type = "{{typeof(InlineDispatcherConfigurator).FullName}}, {{typeof(InlineDispatcherConfigurator).Assembly.GetName().Name}}"
          throughput = 100
        }
        """);

    /// <inheritdoc />
    protected override void ExecuteTask(IRunnable run)
    {
        if (RunsHere(run)) RunTracked(run);
        else ThreadPool.UnsafeQueueUserWorkItem(static state => state.Dispatcher.RunTracked(state.Run), (Dispatcher: this, Run: run), preferLocal: false);
    }

    private void RunTracked(IRunnable run)
    {
        var outer = _running;
        _depth++;
        _running = run;
        RunStarting?.Invoke();
        try
        {
            run.Run();
        }
        finally
        {
            _depth--;
            _running = outer;
            RunEnded?.Invoke();
        }
    }

    /// <summary>Called on the running thread before every mailbox run of this dispatcher (with <see cref="RunEnded"/>, a completion signal for tests).</summary>
    internal Action? RunStarting { get; set; }

    /// <summary>Called on the running thread after every mailbox run of this dispatcher.</summary>
    internal Action? RunEnded { get; set; }

    /// <summary>Mailbox runs of this dispatcher nested on the calling thread now (for tests).</summary>
    internal static int Depth => _depth;

    private bool RunsHere(IRunnable run)
    {
        if (_depth >= MaxDepth) return false;
        // A mailbox that used up its throughput registers itself again at the end of its own run: what is
        // left is other senders' work, which goes to the pool rather than deeper into this caller's stack.
        if (ReferenceEquals(run, _running)) return false;
        // Akka leaves a thread's last actor as its current one after the run; the actor is still handling a
        // message on this thread only while its CurrentMessage is set (another thread's run makes this
        // answer "inside", which only costs a hop to the pool).
        return Akka.Actor.Internal.InternalCurrentActorCellKeeper.Current is { CurrentMessage: not null } sender
            ? ReferenceEquals(sender.Dispatcher, this)
            : Thread.CurrentThread.IsThreadPoolThread || _threadOptedIn;
    }

    [ThreadStatic]
    private static bool _threadOptedIn;

    /// <summary>
    /// Lets the calling dedicated thread run lifecycle steps inline, as a thread-pool thread does: for a thread
    /// that only serves requests (a daemon's per-client reader), whose short waits on device calls are the
    /// request's own. Akka's scheduler and other shared threads never opt in.
    /// </summary>
    public static void RunInlineOnThisThread() => _threadOptedIn = true;

    /// <inheritdoc />
    protected override void Shutdown()
    {
        // Nothing of its own to stop: it has no threads.
    }
}

/// <summary>Makes the one <see cref="InlineDispatcher"/> of its configuration.</summary>
public sealed class InlineDispatcherConfigurator : MessageDispatcherConfigurator
{
    private readonly InlineDispatcher _instance;

    /// <summary>Created by Akka from the dispatcher's configuration.</summary>
    public InlineDispatcherConfigurator(Config config, IDispatcherPrerequisites prerequisites) : base(config, prerequisites) =>
        _instance = new InlineDispatcher(this);

    /// <inheritdoc />
    public override MessageDispatcher Dispatcher() => _instance;
}
