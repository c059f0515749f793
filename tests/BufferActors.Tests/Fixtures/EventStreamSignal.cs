using Akka.Actor;

namespace BufferActors.Tests.Fixtures;

/// <summary>
/// A completion signal from an actor system's event stream: the next message of a type published that
/// matches. The subscription is made before this returns, so create the signal before the action that publishes.
/// </summary>
internal static class EventStreamSignal
{
    public static Task<T> Next<T>(ActorSystem system, Func<T, bool> match, TimeSpan timeout)
    {
        var done = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        var listener = system.ActorOf(Props.Create(() => new Listener<T>(match, done)));
        system.EventStream.Subscribe(listener, typeof(T));
        return done.Task.WaitAsync(timeout);
    }

    private sealed class Listener<T>(Func<T, bool> match, TaskCompletionSource<T> done) : UntypedActor
    {
        protected override void OnReceive(object message)
        {
            if (message is not T published || !match(published)) return;
            done.TrySetResult(published);
            Context.System.EventStream.Unsubscribe(Self);
            Context.Stop(Self);
        }
    }
}
