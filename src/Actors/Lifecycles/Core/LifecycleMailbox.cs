using Akka.Configuration;
using Akka.Dispatch;
using Akka.Dispatch.MessageQueues;

namespace BufferActors.Actors.Lifecycles;

/// <summary>
/// The mailbox of every lifecycle actor: unbounded and double-ended, as the journal's stash needs, but
/// small (<see cref="LifecycleMessageQueue"/>). Akka's own deque mailbox wraps a ConcurrentQueue whose
/// first segment alone is about 1 KB per actor, the largest single cost of an idle lifecycle when
/// 100,000 are live (docs/performance.md, "Scale").
/// </summary>
public sealed class LifecycleMailbox : MailboxType, IProducesMessageQueue<LifecycleMessageQueue>
{
    /// <summary>The configuration path lifecycle props name with <c>WithMailbox</c>.</summary>
    public const string Id = "bufferactors.lifecycle-mailbox";

    /// <summary>Akka instantiates it from <see cref="Configuration"/>.</summary>
    public LifecycleMailbox(Settings settings, Config config) : base(settings, config)
    {
    }

    /// <summary>The configuration that defines <see cref="Id"/>; the root manager adds it to its system.</summary>
    public static Config Configuration { get; } = ConfigurationFactory.ParseString(
        $"{Id}.mailbox-type = \"{typeof(LifecycleMailbox).FullName}, {typeof(LifecycleMailbox).Assembly.GetName().Name}\"");

    /// <inheritdoc />
    public override IMessageQueue Create(IActorRef owner, ActorSystem system) => new LifecycleMessageQueue();
}
