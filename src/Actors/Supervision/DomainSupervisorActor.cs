using Akka.Event;
using BufferActors.Actors.Lifecycles;
using static BufferActors.Actors.Supervision.DomainLifecycles;

namespace BufferActors.Actors.Supervision;

/// <summary>
/// Owns every lifecycle of one frontend domain: enforces its quotas, routes commands to lifecycles, and when
/// the domain dies ends them phase by phase in the order their kinds give (<see cref="ILifecycleKind.CleanupPhase"/>:
/// imports first, their grants ended or deferred; then maps; then exports, which release as soon as their
/// consumers detach). It never names a kind: what it needs of one comes from <see cref="LifecycleKinds"/>.
/// </summary>
/// <remarks>
/// <para>
/// A dead domain's supervisor refuses its requests (<c>DomainDead</c>) until the operator says the domain was destroyed
/// (<see cref="ReleaseDomain"/>): then it keeps only what is still live, no longer counted against the domain id, and
/// is stopped when that has ended; the manager starts a new supervisor for the id's next requests. Each supervisor owns the
/// lifecycle ids of its span of sequence numbers, and sends a command for an id outside it back to the manager, which
/// knows whose it is (a client may still name this supervisor as its domain's route).
/// </para>
/// <para>
/// An <see cref="UntypedActor"/> with one switch, like the lifecycles: every request of every lifecycle
/// passes through here, and a ReceiveActor's handler table costs more per message than a switch
/// (docs/performance.md, "Reused export actors").
/// </para>
/// </remarks>
public sealed class DomainSupervisorActor : UntypedActor
{
    private readonly DomainId _domain;
    private readonly LifecycleServices _services;
    private readonly Dictionary<LifecycleId, int> _quarantined = []; // live lifecycles quarantined, and their pages
    private long _quarantinedPages;
    private readonly Quotas _quotas;
    private readonly LifecycleKinds _kinds;
    private readonly Dictionary<IActorRef, (LifecycleId Id, int Pages)> _live = [];
    // Where commands go: the lifecycles that have not finished. A finished one stays a child until it has
    // answered what is in its mailbox, but new commands for it are answered "not found" here.
    private readonly Dictionary<LifecycleId, IActorRef> _routes = [];
    // Actors that finished their lifecycle, holding nothing, kept (per kind, up to its ReusedActors) to run the next
    // lifecycles of their kind: spawning, watching and stopping an actor per export costs more than the rest of what
    // the actors add to it. A reused actor keeps the name of the lifecycle it was spawned for; routes go by id, never by name.
    private readonly Dictionary<LifecycleKind, List<IActorRef>> _idle = []; // the last one kept is the first reused
    private readonly HashSet<int> _phasesSignalled = []; // cleanup phases whose lifecycles were sent their cleanup message
    private int _buffers; // live lifecycles of buffer kinds, kept as _live changes: a Start must not count them all
    private long _pages;
    private bool _dead;
    private readonly long _firstSequence; // the span of lifecycle ids this supervisor owns: [_firstSequence, _untilSequence)
    private long _untilSequence = long.MaxValue;
    private bool _released; // the operator released the domain's accounting: what is live ends, then the supervisor stops
    private bool _toldEmpty;

    /// <summary>Creates the supervisor of the lifecycles of <paramref name="domain"/> numbered from <paramref name="firstSequence"/> on.</summary>
    public DomainSupervisorActor(DomainId domain, LifecycleServices services, Quotas quotas, LifecycleKinds kinds, long firstSequence = 0)
    {
        _firstSequence = firstSequence;
        _domain = domain;
        _services = services;
        _quotas = quotas;
        _kinds = kinds;
    }

    /// <inheritdoc />
    protected override void OnReceive(object message)
    {
        switch (message)
        {
            case ILifecycleCommand m: Route(m); break; // the most frequent first
            case Start m: OnStart(m); break;
            case LifecycleFinished m: OnFinished(m); break;
            case Terminated t: OnTerminated(t); break;
            case Adopt m: OnAdopt(m); break;
            case DomainDied: OnDomainDied(); break;
            case ReleaseAccounting m: OnReleaseAccounting(m); break;
            case LifecycleQuarantined m when _live.ContainsKey(Sender) && _quarantined.TryAdd(m.Id, m.PageCount): _quarantinedPages += m.PageCount; break;
            case GetStatus: Sender.Tell(new DomainStatus(_domain, _dead, _buffers, _pages, _live.Values.Select(v => v.Id).OrderBy(i => i.Sequence).ToList()) { Released = _released }); break;
            default:
                // Lifecycles answer the cleanup messages sent to them; nothing else is expected from a child.
                if (!_live.ContainsKey(Sender)) Unhandled(message);
                break;
        }
    }

    private void Track(IActorRef child, LifecycleId id, int pages)
    {
        _live.Add(child, (id, pages)); // a new child: ActorOf refuses a name in use
        _routes.Add(id, child);
        if (_kinds.Of(id.Kind).IsBuffer) _buffers++;
        _pages += pages;
        _services.Metrics?.LifecycleStarted(id, pages);
    }

    /// <summary>Forgets a live lifecycle; false if <paramref name="child"/> runs none.</summary>
    private bool Untrack(IActorRef child)
    {
        if (!_live.Remove(child, out var gone)) return false;
        _routes.Remove(gone.Id);
        if (_quarantined.Remove(gone.Id, out int quarantinedPages)) _quarantinedPages -= quarantinedPages;
        if (_kinds.Of(gone.Id.Kind).IsBuffer) _buffers--;
        _pages -= gone.Pages;
        _services.Metrics?.LifecycleEnded(gone.Id, gone.Pages);
        return true;
    }

    /// <inheritdoc />
    protected override SupervisorStrategy SupervisorStrategy() => LifecycleSupervision.StopAndRelease;

    private void OnStart(Start m)
    {
        if (_dead)
        {
            Sender.Tell(new OperationFailed(ErrorCode.DomainDead, $"{_domain} is dead"));
            return;
        }
        var kind = _kinds.Of(m.Id.Kind);
        if (kind.IsBuffer && _buffers + 1 > _quotas.MaxBuffers)
        {
            Sender.Tell(new OperationFailed(ErrorCode.QuotaExceeded, $"{_domain} already has {_buffers} buffers (quota {_quotas.MaxBuffers})"));
            return;
        }
        if (kind.CanBeQuarantined && (_quarantined.Count >= _quotas.MaxQuarantinedBuffers || _quarantinedPages >= _quotas.MaxQuarantinedPages))
        {
            Sender.Tell(new OperationFailed(ErrorCode.QuotaExceeded,
                $"{_domain} has {_quarantined.Count} quarantined export(s) of {_quarantinedPages} pages, still held after their release " +
                $"(cap {_quotas.MaxQuarantinedBuffers} exports / {_quotas.MaxQuarantinedPages} pages): new exports are refused until they are released or the domain is destroyed"));
            return;
        }
        if (_pages + m.PageCount > _quotas.MaxPages)
        {
            Sender.Tell(new OperationFailed(ErrorCode.QuotaExceeded, $"{_domain} would hold {_pages + m.PageCount} pages (quota {_quotas.MaxPages})"));
            return;
        }
        // An idle actor of the kind if there is one; else a new actor.
        IActorRef child;
        if (_idle.TryGetValue(kind.Kind, out var idle) && idle.Count > 0)
        {
            child = idle[^1];
            idle.RemoveAt(idle.Count - 1);
        }
        else
        {
            child = Context.ActorOf(kind.Props(m.Id, _services), m.Id.ActorName);
            Context.Watch(child);
        }
        // A client's request learns where the domain's later commands go (BufferActorsClient skips the manager's hop).
        if (Sender is Api.ReplyPromise promise) promise.RouteTo(Self);
        // The first message a new actor gets, as the supervisor is the only one who knows it yet.
        child.Tell(new StartLifecycle(m.Id, m.Request, Sender));
        Track(child, m.Id, m.PageCount);
    }

    private void OnAdopt(Adopt m)
    {
        var child = Context.ActorOf(m.Props, m.Record.Id.ActorName);
        Context.Watch(child);
        Track(child, m.Record.Id, m.Record.PageCount);
    }

    private void Route(ILifecycleCommand m)
    {
        if (_routes.TryGetValue(m.Id, out var child))
        {
            child.Forward(m);
            return;
        }
        // Another supervisor's id (of this domain id before or after a release of its accounting): the manager knows whose.
        if (m.Id.Sequence < _firstSequence || m.Id.Sequence >= _untilSequence) Context.Parent.Forward(m);
        // Finished lifecycles are gone: a wait on one is answered "not found", which means released.
        else Sender.Tell(m.NotFoundAnswer());
    }

    private void OnFinished(LifecycleFinished m)
    {
        // Quotas are freed now. The actor answers what is already in its mailbox first, whatever comes next: it
        // stops, or, if its kind reuses actors and fewer than the kept number are idle, waits for the next lifecycle.
        bool wasLive = Untrack(Sender); // an import's queued Release says it again
        int keep = _kinds.Of(m.Id.Kind).ReusedActors;
        if (wasLive && keep > 0 && !_dead && Idle(m.Id.Kind).Count < keep) Idle(m.Id.Kind).Add(Sender);
        else Sender.Tell(Retire.Instance);
        if (_dead) AdvanceCleanup();
        StopWhenEmpty();
    }

    private List<IActorRef> Idle(LifecycleKind kind)
    {
        if (!_idle.TryGetValue(kind, out var idle)) _idle[kind] = idle = [];
        return idle;
    }

    private void OnTerminated(Terminated t)
    {
        Untrack(t.ActorRef); // a lifecycle stopped by a failure never said it finished
        foreach (var idle in _idle.Values) idle.Remove(t.ActorRef); // an idle one failed on a late command of its last lifecycle: never hand it another
        if (_dead) AdvanceCleanup();
        StopWhenEmpty();
    }

    private void OnDomainDied()
    {
        Sender.Tell(new DomainCleanupStarted(_domain, _live.Count));
        Die();
    }

    /// <summary>
    /// The domain was destroyed: its lifecycles end (if they are not ending already), and what is still live is
    /// answered and kept until it ends; the ids from <see cref="ReleaseAccounting.UntilSequence"/> on are the next supervisor's.
    /// </summary>
    private void OnReleaseAccounting(ReleaseAccounting m)
    {
        bool wasDead = _dead;
        Die();
        _released = true;
        _untilSequence = m.UntilSequence;
        Context.GetLogger().Warning("{0} destroyed: accounting released ({1}); {2} lifecycle(s) of {3} page(s) still live, tracked until they end",
            _domain, wasDead ? "it was known dead" : "its lifecycles are ended now", _live.Count, _pages);
        Sender.Tell(new DomainReleased(_domain, wasDead, _live.Count, _pages));
        StopWhenEmpty();
    }

    /// <summary>
    /// A released supervisor is done once the last of its lifecycles ended: it tells the manager, which forgets and stops
    /// it (never stopping itself, so the manager never asks a supervisor that is gone).
    /// </summary>
    private void StopWhenEmpty()
    {
        if (_released && _live.Count == 0 && !_toldEmpty)
        {
            _toldEmpty = true;
            Context.Parent.Tell(ReleasedEmpty.Instance);
        }
    }

    /// <summary>Marks the domain dead, once: the clients are told, idle actors retire, and the cleanup starts.</summary>
    private void Die()
    {
        if (_dead) return;
        _dead = true;
        Context.System.EventStream.Publish(new FrontendDied(_domain));
        foreach (var idle in _idle.Values)
        {
            idle.ForEach(actor => actor.Tell(Retire.Instance));
            idle.Clear();
        }
        AdvanceCleanup();
    }

    /// <summary>One cleanup phase at a time: the next starts when the previous phase's lifecycles are gone.</summary>
    private void AdvanceCleanup()
    {
        foreach (var phase in _kinds.All.GroupBy(k => k.CleanupPhase).OrderBy(g => g.Key))
        {
            var kinds = phase.ToDictionary(k => k.Kind);
            var children = _live.Where(c => kinds.ContainsKey(c.Value.Id.Kind)).ToList();
            if (children.Count == 0) continue;
            bool signal = _phasesSignalled.Add(phase.Key);
            foreach (var (child, (id, _)) in children)
            {
                if (kinds[id.Kind].CleanupMessage(id) is not { } end) Context.Stop(child);
                else if (signal) child.Tell(end);
            }
            return;
        }
        // The supervisor stays, so later requests for the dead domain are refused with DomainDead until it is released.
    }
}
