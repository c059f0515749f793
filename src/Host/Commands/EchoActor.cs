using Akka.Actor;

namespace BufferActors.Host.Commands;

/// <summary>Answers every message with itself: the floor of one request/reply round trip through Akka, for <c>bench lifecycle</c>.</summary>
internal sealed class EchoActor : UntypedActor
{
    protected override void OnReceive(object message) => Sender.Tell(message);
}
