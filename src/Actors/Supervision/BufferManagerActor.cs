using BufferActors.Actors.Lifecycles;
using BufferActors.Actors.Persistence;
using static BufferActors.Actors.Supervision.BufferManager;

namespace BufferActors.Actors.Supervision;

/// <summary>
/// The root: validates requests, gives each new lifecycle its stable id, creates one supervisor per
/// frontend domain on demand, routes lifecycle commands to it, and aggregates status.
/// </summary>
/// <remarks>
/// An <see cref="UntypedActor"/> with a switch per behaviour: every request passes through here, and a
/// ReceiveActor's handler table costs more per message than a switch (docs/performance.md).
/// </remarks>
public sealed class BufferManagerActor : UntypedActor, IWithUnboundedStash, IWithTimers
{
    private readonly LifecycleServices _services;
    private readonly BufferManager.Settings _settings;
    private readonly LifecycleKinds _kinds;
    // A domain id's supervisor, and the first lifecycle sequence it owns (0 unless an earlier one was released).
    private readonly Dictionary<DomainId, (IActorRef Supervisor, long From)> _supervisors = [];
    // Supervisors whose domain's accounting the operator released, each with the span of sequences it owns, until
    // their last lifecycle ends and they stop.
    private readonly Dictionary<DomainId, List<(IActorRef Supervisor, long From, long Until)>> _released = [];
    // Releases per domain id: the next supervisor's name, never one a stopping supervisor may still hold.
    private readonly Dictionary<DomainId, int> _generations = [];
    private long _nextSequence = 1;
    private RecoveryReport _report = RecoveryReport.Empty;
    private readonly Diagnostics.BufferActorsMetrics? _ownMetrics; // made here when the host gave none: ended with the manager
    private readonly long _startedAt = System.Diagnostics.Stopwatch.GetTimestamp();

    /// <summary>Creates the manager. With a journal it first recovers, stashing requests until then.</summary>
    public BufferManagerActor(LifecycleServices services, BufferManager.Settings settings)
    {
        _settings = settings;
        _kinds = settings.Kinds ?? LifecycleKinds.Default(settings.Export);
        // What lifecycles owe the journal when they cannot wait for it goes through one outbox, which outlives them.
        _services = services.Journal is { } journal && services.Outbox is null
            ? services with { Outbox = Context.ActorOf(JournalOutbox.Props(journal, services.JournalTimeout), JournalOutbox.ChildName) }
            : services;
        if (_services.Metrics is null) _services = _services with { Metrics = _ownMetrics = new Diagnostics.BufferActorsMetrics() };
        // Every lifecycle below this manager names the compact mailbox, so its system must know it.
        if (!Context.System.Settings.Config.HasPath(LifecycleMailbox.Id))
            Context.System.Settings.InjectTopLevelFallback(LifecycleMailbox.Configuration);
        if (services.Journal is not null) Become(Recovering);
    }

    /// <inheritdoc />
    public IStash Stash { get; set; } = null!;

    /// <inheritdoc />
    public ITimerScheduler Timers { get; set; } = null!;

    private DeviceSession Session => _services.Session;

    /// <inheritdoc />
    protected override void PreStart()
    {
        var session = Session;
        _services.Metrics!.ObserveDeferred(() => session.Deferred);
        LiveManagers.Of(Context.System).Add(Self.Path);
        Context.ActorOf(Akka.Actor.Props.Create(() => new DeadLetterAnswerer()), "dead-letter-answerer");
        if (_services.Journal is { } journal)
        {
            journal.Tell(new LifecycleJournal.GetLive());
            // A journal whose recovery fails (a database not reachable yet, a recovery time-out on a slow machine) is
            // started again by its back-off supervisor, and the question it had stashed is lost with it: ask again
            // until it answers. A journal still recovering stashes the repeats and answers each; the first one wins.
            Timers.StartPeriodicTimer("ask-live", AskLive.Instance, LiveAskInterval);
            FlushJournalOnShutdown();
        }
        // Numbers of exports that stopped while a device held them are freed, and their release journaled, once
        // the kernel lets go, even if no other export is probing.
        Timers.StartPeriodicTimer("reap", ReapParked.Instance, _settings.Export.MaxProbe);
    }

    private void Recovering(object message)
    {
        switch (message)
        {
            case LifecycleJournal.Live live:
                Timers.Cancel("ask-live");
                Reconcile(live);
                Become(OnReceive);
                Stash.UnstashAll();
                break;
            case AskLive:
                _services.Journal!.Tell(new LifecycleJournal.GetLive());
                break;
            case ReapParked:
                break; // nothing is parked before recovery: only this process's lifecycles park numbers
            default:
                Stash.Stash();
                break;
        }
    }

    /// <summary>
    /// Each lifecycle the journal shows live goes to its kind (<see cref="ILifecycleKind.Recover"/>): adopted again
    /// when its object is still live on this very device instance, watched while the kernel still holds something of
    /// it, or else closed with a <see cref="Reclaimed"/> event (the old gntdev instance took its object with it).
    /// </summary>
    private void Reconcile(LifecycleJournal.Live live)
    {
        _nextSequence = Math.Max(_nextSequence, live.NextSequence);
        var adopted = new List<LifecycleId>();
        var reclaimed = new List<(LifecycleId, string)>();
        var deferred = new List<DeferredGrants>();
        var tell = new SortedSet<ushort>();
        var events = new List<LifecycleEvent>();
        foreach (var record in live.Lifecycles)
        {
            var recovery = _kinds.Find(record.Id.Kind) is { } kind
                ? kind.Recover(record, _services)
                : new LifecycleRecovery.Reclaim($"this host runs no {record.Id.Kind} lifecycles", TellFrontend: true);
            switch (recovery)
            {
                case LifecycleRecovery.Adopt a:
                    Route(record.Id.Domain, new DomainLifecycles.Adopt(record, a.Props), create: true);
                    adopted.Add(record.Id);
                    break;
                case LifecycleRecovery.Watched w:
                    events.AddRange(w.Events);
                    deferred.Add(w.Deferred);
                    if (w.TellFrontend) tell.Add(record.Id.Domain.Value);
                    break;
                case LifecycleRecovery.Reclaim r:
                    reclaimed.Add((record.Id, r.Reason));
                    events.Add(new Reclaimed(record.Id, _services.Clock.GetUtcNow(), r.Reason));
                    if (r.TellFrontend) tell.Add(record.Id.Domain.Value);
                    break;
            }
        }
        if (events.Count > 0) JournaledLifecycleActor.OweJournal(_services, events);
        _report = new RecoveryReport(live.EventsRecovered, live.FromSnapshot, adopted, reclaimed, [.. tell.Select(d => new DomainId(d))]) { Deferred = deferred };
        _services.Metrics!.Recovered(System.Diagnostics.Stopwatch.GetElapsedTime(_startedAt));
    }

    /// <summary>Ready: requests are validated and routed.</summary>
    protected override void OnReceive(object message)
    {
        switch (message)
        {
            case ILifecycleCommand m: RouteCommand(m); break; // the most frequent first
            case ILifecycleRequest m: StartLifecycle(m); break;
            // A death is remembered even for a domain that never had a lifecycle: later requests are refused.
            case DomainLifecycles.DomainDied m: Route(m.Domain, m, create: !m.Domain.IsReserved); break;
            case DomainLifecycles.ReleaseDomain m: ReleaseDomain(m.Domain); break;
            case DomainLifecycles.ReleasedEmpty: ForgetReleased(Sender); break;
            case GetStatus: AggregateStatus(); break;
            case GetRecoveryReport: Sender.Tell(_report); break;
            case FlushJournal: FlushOwed(); break;
            case ReapParked: Reap(); break;
            case LifecycleJournal.Live: break; // the answer to a repeated question, after the first one was taken
            default: Unhandled(message); break;
        }
    }

    /// <summary>Frees parked numbers, and tells the event stream of every import whose deferred grants ended.</summary>
    private void Reap()
    {
        Session.ReapParkedNumbers();
        foreach (var import in Session.ReapEndedAccess()) Context.System.EventStream.Publish(new BufferManager.AccessEnded(import));
    }

    /// <inheritdoc />
    protected override void PostStop()
    {
        _services.Metrics!.ObserveDeferred(null);
        LiveManagers.Of(Context.System).Remove(Self.Path);
        _ownMetrics?.Dispose();
        base.PostStop();
    }

    /// <inheritdoc />
    protected override SupervisorStrategy SupervisorStrategy() => LifecycleSupervision.ResumeDomain;

    /// <summary>
    /// Validates <paramref name="request"/> at the edge — a kind that takes it, a domain that is not reserved, a page
    /// count the device can take, then what its kind refuses — so that nothing refused reaches the device or the
    /// journal; gives the lifecycle its id and routes it to its domain's supervisor.
    /// </summary>
    private void StartLifecycle(ILifecycleRequest request)
    {
        if (_kinds.ForRequest(request) is not { } kind)
        {
            Sender.Tell(new OperationFailed(ErrorCode.InvalidArgument, $"this host runs no lifecycle that a {request.GetType().Name} starts"));
            return;
        }
        var domain = request.Domain;
        int pages = request.PageCount;
        if (domain.IsReserved)
        {
            Sender.Tell(new OperationFailed(ErrorCode.InvalidArgument, $"domain id 0x{domain.Value:X4} is reserved", Errno.EINVAL));
            return;
        }
        if (pages <= 0 || pages > Session.Device.PageLimit)
        {
            Sender.Tell(new OperationFailed(ErrorCode.InvalidArgument, $"page count {pages} outside 1..{Session.Device.PageLimit}", Errno.EINVAL));
            return;
        }
        if (kind.Refusal(request) is { } refused)
        {
            Sender.Tell(refused);
            return;
        }
        var id = new LifecycleId(kind.Kind, domain, _nextSequence++);
        Route(domain, new DomainLifecycles.Start(id, request, pages), create: true);
    }

    /// <summary>
    /// A command goes to the supervisor that owns its id: the domain id's current one, or one whose accounting was
    /// released and that still has lifecycles ending.
    /// </summary>
    private void RouteCommand(ILifecycleCommand m)
    {
        var domain = m.Id.Domain;
        if (_supervisors.TryGetValue(domain, out var current) && m.Id.Sequence >= current.From)
        {
            current.Supervisor.Forward(m);
            return;
        }
        if (_released.TryGetValue(domain, out var released))
        {
            foreach (var (supervisor, from, until) in released)
            {
                if (m.Id.Sequence < from || m.Id.Sequence >= until) continue;
                supervisor.Forward(m);
                return;
            }
        }
        Sender.Tell(m.NotFoundAnswer());
    }

    /// <summary>
    /// The operator's word that <paramref name="domain"/> was destroyed: its supervisor ends what the domain still has,
    /// answers what stays live, and keeps that apart until it ends; the id's next requests get a new supervisor.
    /// </summary>
    private void ReleaseDomain(DomainId domain)
    {
        if (domain.IsReserved)
        {
            Sender.Tell(new OperationFailed(ErrorCode.InvalidArgument, $"domain id 0x{domain.Value:X4} is reserved", Errno.EINVAL));
            return;
        }
        if (!_supervisors.Remove(domain, out var current))
        {
            Sender.Tell(new DomainLifecycles.DomainReleased(domain, WasDead: false, Lifecycles: 0, Pages: 0));
            return;
        }
        if (!_released.TryGetValue(domain, out var released)) _released[domain] = released = [];
        released.Add((current.Supervisor, current.From, _nextSequence));
        _generations[domain] = _generations.GetValueOrDefault(domain) + 1;
        current.Supervisor.Forward(new DomainLifecycles.ReleaseAccounting(_nextSequence));
    }

    /// <summary>
    /// A released supervisor's last lifecycle ended: it is forgotten and stopped at once (what its mailbox still holds
    /// goes to dead letters, where <see cref="DeadLetterAnswerer"/> answers it: a status ask of <see cref="AggregateStatus"/>
    /// sent just before is answered <see cref="DomainLifecycles.SupervisorGone"/>).
    /// </summary>
    private void ForgetReleased(IActorRef supervisor)
    {
        foreach (var (domain, released) in _released)
        {
            if (released.RemoveAll(r => r.Supervisor.Equals(supervisor)) == 0) continue;
            if (released.Count == 0) _released.Remove(domain);
            Context.Stop(supervisor);
            return;
        }
    }

    private void Route(DomainId domain, object message, bool create)
    {
        if (!_supervisors.TryGetValue(domain, out var entry))
        {
            if (!create)
            {
                Sender.Tell(message switch
                {
                    ILifecycleCommand c => c.NotFoundAnswer(),
                    DomainLifecycles.DomainDied d => new DomainLifecycles.DomainCleanupStarted(d.Domain, 0),
                    _ => new OperationFailed(ErrorCode.NotFound, $"no live lifecycle of {domain}"),
                });
                return;
            }
            // After a release, ids from the last released supervisor's end on are the new one's.
            long from = _released.TryGetValue(domain, out var released) ? released[^1].Until : 0;
            string name = _generations.TryGetValue(domain, out int generation) ? $"domain-{domain.Value}-{generation}" : $"domain-{domain.Value}";
            entry = (Context.ActorOf(DomainLifecycles.Props(domain, _services, _settings.Quotas, _kinds, from), name), from);
            _supervisors.Add(domain, entry);
        }
        entry.Supervisor.Forward(message);
    }

    /// <summary>
    /// The events lifecycles owe the journal (a recovery's <see cref="Reclaimed"/>, the end of a lifecycle stopped by a
    /// failure) are written by the outbox after their lifecycle is gone; a host that stops right after them must not
    /// lose them, or the next start adopts or reclaims again what has already ended. So the actor system's shutdown
    /// waits, before it stops the actors, until the outbox has drained (bounded by the journal time-out and the phase's).
    /// </summary>
    private void FlushJournalOnShutdown()
    {
        var self = Self;
        var timeout = _services.JournalTimeout;
        CoordinatedShutdown.Get(Context.System).AddTask(CoordinatedShutdown.PhaseBeforeActorSystemTerminate, "bufferactors-flush-journal", async () =>
        {
            try
            {
                await self.Ask<JournalOutbox.Drained>(new FlushJournal(), timeout).ConfigureAwait(false);
            }
            catch (AskTimeoutException)
            {
                // The journal did not take the owed events in time: the next start reconciles them from what is durable.
            }
            return Akka.Done.Instance;
        });
    }

    private void FlushOwed()
    {
        if (_services.Outbox is { } outbox) outbox.Forward(new JournalOutbox.Drain());
        else Sender.Tell(new JournalOutbox.Drained());
    }

    private sealed class ReapParked
    {
        public static readonly ReapParked Instance = new();
    }

    /// <summary>How often a recovering manager asks the journal again for the live lifecycles.</summary>
    internal static readonly TimeSpan LiveAskInterval = TimeSpan.FromSeconds(2);

    private sealed class AskLive
    {
        public static readonly AskLive Instance = new();
    }

    private void AggregateStatus()
    {
        var asks = _supervisors.Values.Select(s => s.Supervisor).Concat(_released.Values.SelectMany(r => r.Select(s => s.Supervisor)))
            .Select(c => c.Ask<object>(new DomainLifecycles.GetStatus(), TimeSpan.FromSeconds(5)))
            .ToList();
        Task.WhenAll(asks)
            .ContinueWith(t => t.IsCompletedSuccessfully
                ? new BufferManager.Status(t.Result.OfType<DomainLifecycles.DomainStatus>().OrderBy(d => d.Domain.Value).ToList()) { Deferred = Session.Deferred }
                : (object)new OperationFailed(ErrorCode.InvalidState, "a domain supervisor did not answer"), TaskScheduler.Default)
            .PipeTo(Sender);
    }
}
