namespace BufferActors.Actors.Api;

/// <summary>
/// A subscription of <see cref="BufferActorsClient.Subscribe{T}"/>: a small actor subscribed to the event stream for
/// one type, handing each notice to a callback. Disposing it unsubscribes and stops the actor.
/// </summary>
internal sealed class NoticeSubscription : IDisposable
{
    private readonly ActorSystem _system;
    private readonly IActorRef _subscriber;
    private int _disposed;

    private NoticeSubscription(ActorSystem system, IActorRef subscriber)
    {
        _system = system;
        _subscriber = subscriber;
    }

    public static NoticeSubscription Start<T>(ActorSystem system, Action<T> notice)
    {
        ArgumentNullException.ThrowIfNull(notice);
        var subscriber = system.ActorOf(Props.Create(() => new Subscriber<T>(notice)));
        system.EventStream.Subscribe(subscriber, typeof(T));
        return new NoticeSubscription(system, subscriber);
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        _system.EventStream.Unsubscribe(_subscriber);
        _system.Stop(_subscriber);
    }

    private sealed class Subscriber<T> : UntypedActor
    {
        private readonly Action<T> _notice;

        public Subscriber(Action<T> notice) => _notice = notice;

        protected override void OnReceive(object message)
        {
            if (message is T notice) _notice(notice);
            else Unhandled(message);
        }
    }
}
