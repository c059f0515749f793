using Akka.Actor;
using BufferActors.Actors;
using BufferActors.Actors.Lifecycles;

namespace BufferActors.Tests.Lifecycles.Probe;

/// <summary>A probe lifecycle: holds nothing of the device; counts pings; ends on <see cref="Probe.End"/>.</summary>
public sealed class ProbeActor(LifecycleId id, LifecycleServices services) : JournaledLifecycleActor(id, services, null)
{
    private int _pings;

    /// <inheritdoc />
    protected override void Start(object request) => AnswerRequester(new Probe.Started(Id));

    /// <inheritdoc />
    protected override bool Handle(object message)
    {
        switch (message)
        {
            case Probe.Ping:
                Sender.Tell(new Probe.Pong(Id, ++_pings));
                return true;
            case Probe.End:
                Sender.Tell(new Probe.Ended(Id));
                Finished();
                return true;
            default:
                return false;
        }
    }
}
