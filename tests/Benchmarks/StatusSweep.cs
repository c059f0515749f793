using Akka.Actor;
using BufferActors.Actors;
using BufferActors.Actors.Lifecycles;

namespace BufferActors.Benchmarks;

/// <summary>
/// Asks lifecycles for their status from this one actor, a window at a time, and reports those not in
/// the expected state. An actor keeps the sender of the last message it handled: asked with
/// <c>Ask</c>, every lifecycle would keep its own temporary actor and answered reply (some 300 bytes),
/// which <c>bench scale</c> must not count as the cost of a live lifecycle.
/// </summary>
internal sealed class StatusSweep : ReceiveActor
{
    private Sweep? _sweep;
    private IActorRef _asker = ActorRefs.Nobody;
    private int _sent;
    private int _answered;
    private List<string> _problems = [];

    public StatusSweep()
    {
        Receive<Sweep>(OnSweep);
        Receive<LifecycleStatus>(s => Answered(s.State == _sweep!.State ? null : $"{s.Id} is {s.State}, not {_sweep.State}"));
        Receive<OperationFailed>(f => Answered(f.Detail));
    }

    /// <summary>Ask each of <paramref name="Ids"/> through <paramref name="Manager"/>, at most <paramref name="Window"/> at a time.</summary>
    public sealed record Sweep(IActorRef Manager, LifecycleId[] Ids, string State, int Window);

    /// <summary>Every lifecycle answered; <paramref name="Problems"/> lists those not in the expected state.</summary>
    public sealed record Swept(List<string> Problems);

    private void OnSweep(Sweep sweep)
    {
        (_sweep, _asker, _sent, _answered, _problems) = (sweep, Sender, 0, 0, []);
        while (_sent < Math.Min(sweep.Window, sweep.Ids.Length)) Next();
        if (sweep.Ids.Length == 0) _asker.Tell(new Swept(_problems));
    }

    private void Next() => _sweep!.Manager.Tell(new LifecycleStatus.Get(_sweep.Ids[_sent++]));

    private void Answered(string? problem)
    {
        if (problem is not null) _problems.Add(problem);
        if (++_answered == _sweep!.Ids.Length) _asker.Tell(new Swept(_problems));
        else if (_sent < _sweep.Ids.Length) Next();
    }
}
