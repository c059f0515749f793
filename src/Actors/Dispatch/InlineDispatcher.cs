using Akka.Configuration;
using Akka.Dispatch;

namespace BufferActors.Actors.Dispatch;

/// <summary>
/// A dispatcher that runs an actor's mailbox on the thread that sent it a message, instead of handing
/// it to the thread pool. A backend's lifecycle step is a short chain of messages (client → manager →
/// domain supervisor → lifecycle → reply) around one synchronous device call; on the pool each hop is
/// a thread wake-up of several microseconds, which at 1080p costs as much as the ioctls themselves.
/// Inline, the whole step runs on the caller's thread and the reply is already there when the caller
/// awaits it.
/// </summary>
/// <remarks>
/// Actor semantics are unchanged: the mailbox still lets one thread at a time process an actor, so a
/// message sent to an actor another thread is processing is queued and processed by that thread.
/// Nesting is bounded: past <see cref="MaxDepth"/> nested mailbox runs on one thread (a long chain of
/// actors telling each other, or a busy mailbox that re-schedules itself) the run goes to the thread
/// pool, so the stack cannot overflow. What it costs: a sender's thread does the receiver's work, so
/// handlers must not block for long (a lifecycle's device calls are single ioctls), and timers' handlers
/// run on Akka's scheduler thread. Configure with <see cref="Config"/>.
/// </remarks>
public sealed class InlineDispatcher(MessageDispatcherConfigurator configurator) : MessageDispatcher(configurator)
{
    /// <summary>Nested mailbox runs allowed on one thread before a run goes to the thread pool.</summary>
    public const int MaxDepth = 16;

    /// <summary>The dispatcher id <see cref="Config"/> defines.</summary>
    public const string DispatcherId = "bufferactors.inline-dispatcher";

    [ThreadStatic]
    private static int _depth;

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
        if (_depth >= MaxDepth)
        {
            ThreadPool.UnsafeQueueUserWorkItem(static r => ((IRunnable)r!).Run(), run);
            return;
        }
        _depth++;
        try
        {
            run.Run();
        }
        finally
        {
            _depth--;
        }
    }

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
