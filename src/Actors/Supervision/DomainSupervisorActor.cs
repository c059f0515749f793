using BufferActors.Actors.Lifecycles;
using static BufferActors.Actors.Supervision.DomainLifecycles;

namespace BufferActors.Actors.Supervision;

/// <summary>
/// Owns every lifecycle of one frontend domain: enforces its quotas, routes commands to lifecycles,
/// and when the domain dies ends them in dependency order — imports first (their grants ended or
/// deferred), then maps, then exports, which release as soon as their consumers detach.
/// </summary>
/// <remarks>
/// An <see cref="UntypedActor"/> with one switch, like the lifecycles: every request of every lifecycle
/// passes through here, and a ReceiveActor's handler table costs more per message than a switch
/// (docs/performance.md, "Reused export actors").
/// </remarks>
public sealed class DomainSupervisorActor : UntypedActor
{
    private readonly DomainId _domain;
    private readonly LifecycleServices _services;
    private readonly Quotas _quotas;
    private readonly ExportSettings _exportSettings;
    private readonly Dictionary<IActorRef, (LifecycleId Id, int Pages)> _live = [];
    // Where commands go: the lifecycles that have not finished. A finished one stays a child until it has
    // answered what is in its mailbox, but new commands for it are answered "not found" here.
    private readonly Dictionary<LifecycleId, IActorRef> _routes = [];
    // Export actors that finished their lifecycle, holding nothing, kept to run the next exports: spawning,
    // watching and stopping an actor per export costs more than the rest of what the actors add to it.
    // A reused actor keeps the name of the lifecycle it was spawned for; routes go by id, never by name.
    private readonly List<IActorRef> _idleExporters = []; // the last one kept is the first reused
    private int _buffers; // exports and imports in _live, kept as _live changes: a Start must not count them all
    private long _pages;
    private bool _dead;
    private bool _exportsReleased;

    /// <summary>Creates the supervisor.</summary>
    public DomainSupervisorActor(DomainId domain, LifecycleServices services, Quotas quotas, ExportSettings exportSettings)
    {
        _domain = domain;
        _services = services;
        _quotas = quotas;
        _exportSettings = exportSettings;
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
            case ExportedBuffer.ReleaseAccepted: break; // answers to the releases sent during cleanup
            case GetStatus: Sender.Tell(new DomainStatus(_domain, _dead, _buffers, _pages, _live.Values.Select(v => v.Id).OrderBy(i => i.Sequence).ToList())); break;
            default: Unhandled(message); break;
        }
    }

    private void Track(IActorRef child, LifecycleId id, int pages)
    {
        _live.Add(child, (id, pages)); // a new child: ActorOf refuses a name in use
        _routes.Add(id, child);
        if (id.Kind != LifecycleKind.Map) _buffers++;
        _pages += pages;
    }

    /// <summary>Forgets a live lifecycle; false if <paramref name="child"/> runs none.</summary>
    private bool Untrack(IActorRef child)
    {
        if (!_live.Remove(child, out var gone)) return false;
        _routes.Remove(gone.Id);
        if (gone.Id.Kind != LifecycleKind.Map) _buffers--;
        _pages -= gone.Pages;
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
        if (m.Id.Kind != LifecycleKind.Map && _buffers + 1 > _quotas.MaxBuffers)
        {
            Sender.Tell(new OperationFailed(ErrorCode.QuotaExceeded, $"{_domain} already has {_buffers} buffers (quota {_quotas.MaxBuffers})"));
            return;
        }
        if (_pages + m.PageCount > _quotas.MaxPages)
        {
            Sender.Tell(new OperationFailed(ErrorCode.QuotaExceeded, $"{_domain} would hold {_pages + m.PageCount} pages (quota {_quotas.MaxPages})"));
            return;
        }
        // An export goes to an idle export actor if there is one; anything else to a new actor.
        IActorRef child;
        if (m.Request is ExportedBuffer.Export && _idleExporters.Count > 0)
        {
            child = _idleExporters[^1];
            _idleExporters.RemoveAt(_idleExporters.Count - 1);
        }
        else
        {
            var props = m.Request switch
            {
                ExportedBuffer.Export => ExportedBuffer.Props(m.Id, _services, _exportSettings),
                ImportAttachment.Import => ImportAttachment.Props(m.Id, _services),
                GrantMap.Map => GrantMap.Props(m.Id, _services),
                _ => null,
            };
            if (props is null)
            {
                Sender.Tell(new OperationFailed(ErrorCode.InvalidArgument, $"unknown request {m.Request.GetType().Name}"));
                return;
            }
            child = Context.ActorOf(props, m.Id.ActorName);
            Context.Watch(child);
        }
        // The first message a new actor gets, as the supervisor is the only one who knows it yet.
        child.Tell(new StartLifecycle(m.Id, m.Request, Sender));
        Track(child, m.Id, m.PageCount);
    }

    private void OnAdopt(Adopt m)
    {
        var kind = m.Record.Id.Kind;
        var props = kind == LifecycleKind.Export ? ExportedBuffer.Adopt(_services, m.Record, _exportSettings)
            : kind == LifecycleKind.Import ? ImportAttachment.Adopt(_services, m.Record)
            : null; // a mapping cannot be rebuilt from the journal: see docs/journal.md
        if (props is null) return;
        var child = Context.ActorOf(props, m.Record.Id.ActorName);
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
        // Finished lifecycles are gone: a wait on one is answered "not found", which means released.
        Sender.Tell(DeadLetterAnswerer.NotFound(m));
    }

    private void OnFinished(LifecycleFinished m)
    {
        // Quotas are freed now. The actor answers what is already in its mailbox first, whatever comes next:
        // it stops, or, if it is an export actor and fewer than the kept number are idle, waits for the next export.
        bool wasLive = Untrack(Sender); // an import's queued Release says it again
        if (wasLive && m.Id.Kind == LifecycleKind.Export && !_dead && _idleExporters.Count < _exportSettings.ReusedActors) _idleExporters.Add(Sender);
        else Sender.Tell(Retire.Instance);
        if (_dead) AdvanceCleanup();
    }

    private void OnTerminated(Terminated t)
    {
        Untrack(t.ActorRef); // a lifecycle stopped by a failure never said it finished
        _idleExporters.Remove(t.ActorRef); // an idle one failed on a late command of its last lifecycle: never hand it another
        if (_dead) AdvanceCleanup();
    }

    private void OnDomainDied()
    {
        Sender.Tell(new DomainCleanupStarted(_domain, _live.Count));
        if (_dead) return;
        _dead = true;
        _idleExporters.ForEach(idle => idle.Tell(Retire.Instance));
        _idleExporters.Clear();
        AdvanceCleanup();
    }

    /// <summary>One dependency phase at a time: the next starts when the previous kind is gone.</summary>
    private void AdvanceCleanup()
    {
        foreach (var kind in new[] { LifecycleKind.Import, LifecycleKind.Map })
        {
            var children = _live.Where(c => c.Value.Id.Kind == kind).Select(c => c.Key).ToList();
            if (children.Count == 0) continue;
            children.ForEach(Context.Stop);
            return;
        }
        if (!_exportsReleased)
        {
            _exportsReleased = true;
            foreach (var (child, (id, _)) in _live)
                child.Tell(new ExportedBuffer.Release(id));
        }
        // The supervisor stays, so later requests for the dead domain are refused with DomainDead.
    }
}
