using Akka.Event;
using BufferActors.Actors.Lifecycles;
using BufferActors.Actors.Persistence;

namespace BufferActors.Actors.Supervision;

/// <summary>
/// Answers lifecycle commands that reached a lifecycle after it stopped (they land in dead letters,
/// e.g. when a lifecycle was stopped by a failure with commands still in its mailbox): the caller gets
/// the same "not found" answer a finished lifecycle gets — for a wait, NotFound, which means
/// released — instead of waiting for its ask to time out. A command sent to a domain supervisor that is gone goes
/// to the manager, which routes it to whoever owns its id now. Likewise a journal record sent while the
/// journal is being restarted is answered as failed at once.
/// </summary>
public sealed class DeadLetterAnswerer : ReceiveActor
{
    private readonly LiveManagers _managers = LiveManagers.Of(Context.System);

    /// <summary>Creates the answerer.</summary>
    public DeadLetterAnswerer()
    {
        // A domain supervisor is gone (its accounting was released and its lifecycles ended) while a client still names
        // it as its domain's route: the manager knows who owns the command's id now (or answers "not found" itself).
        Receive<DeadLetter>(d => d.Message is ILifecycleCommand && HasSender(d) && d.Recipient.Path.Parent == Context.Parent.Path,
            d => Context.Parent.Tell(d.Message, d.Sender));
        // Commands to actors of another live manager in the same system are that manager's answerer's.
        Receive<DeadLetter>(d => d.Message is ILifecycleCommand && HasSender(d) && IsOursToAnswer(d.Recipient.Path),
            d => d.Sender.Tell(((ILifecycleCommand)d.Message).NotFoundAnswer()));
        // A status ask that reached a domain supervisor the manager had just stopped (released, its last lifecycle ended).
        Receive<DeadLetter>(d => d.Message is DomainLifecycles.GetStatus && HasSender(d) && d.Recipient.Path.Parent == Context.Parent.Path,
            d => d.Sender.Tell(new DomainLifecycles.SupervisorGone()));
        // A start that reached a lifecycle actor already stopped (an idle export actor, or one stopped with its domain): nothing was started.
        Receive<DeadLetter>(d => d.Message is StartLifecycle,
            d => ((StartLifecycle)d.Message).Requester.Tell(new OperationFailed(ErrorCode.Stopped,
                $"{((StartLifecycle)d.Message).Id}: its actor stopped before it started; nothing was acquired")));
        // The journal is being started again after a storage failure: the write did not happen.
        Receive<DeadLetter>(d => d.Message is LifecycleJournal.Record && HasSender(d),
            d => d.Sender.Tell(new LifecycleJournal.RecordFailed(((LifecycleJournal.Record)d.Message).Correlation, "journal restarting after a write failure")));
        Receive<DeadLetter>(_ => { });
    }

    /// <summary>An actor of this answerer's manager, or of no live manager (one that is gone).</summary>
    private bool IsOursToAnswer(ActorPath recipient) => _managers.Above(recipient) is not { } manager || manager == Context.Parent.Path;

    private bool HasSender(DeadLetter d) => !d.Sender.IsNobody() && !Equals(d.Sender, Context.System.DeadLetters);

    /// <inheritdoc />
    protected override void PreStart() => Context.System.EventStream.Subscribe(Self, typeof(DeadLetter));

    /// <inheritdoc />
    protected override void PostStop() => Context.System.EventStream.Unsubscribe(Self);
}
