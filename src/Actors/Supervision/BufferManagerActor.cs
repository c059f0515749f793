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
    private readonly Dictionary<DomainId, IActorRef> _supervisors = []; // they live as long as the manager
    private long _nextSequence = 1;
    private RecoveryReport _report = RecoveryReport.Empty;

    /// <summary>Creates the manager. With a journal it first recovers, stashing requests until then.</summary>
    public BufferManagerActor(LifecycleServices services, BufferManager.Settings settings)
    {
        _settings = settings;
        // What lifecycles owe the journal when they cannot wait for it goes through one outbox, which outlives them.
        _services = services.Journal is { } journal && services.Outbox is null
            ? services with { Outbox = Context.ActorOf(JournalOutbox.Props(journal, services.JournalTimeout), JournalOutbox.ChildName) }
            : services;
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
        Context.ActorOf(Akka.Actor.Props.Create(() => new DeadLetterAnswerer()), "dead-letter-answerer");
        if (_services.Journal is { } journal)
        {
            journal.Tell(new LifecycleJournal.GetLive());
            // A journal whose recovery fails (a database not reachable yet, a recovery time-out on a slow machine) is
            // started again by its back-off supervisor, and the question it had stashed is lost with it: ask again
            // until it answers. A journal still recovering stashes the repeats and answers each; the first one wins.
            Timers.StartPeriodicTimer("ask-live", AskLive.Instance, LiveAskInterval);
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
    /// Lifecycles recorded on this very device instance are adopted again; the others died with the
    /// old gntdev instance (the kernel released imports and maps, and releases exports when their
    /// consumers let go) and are closed with a <see cref="Reclaimed"/> event.
    /// </summary>
    private void Reconcile(LifecycleJournal.Live live)
    {
        _nextSequence = Math.Max(_nextSequence, live.NextSequence);
        var adopted = new List<LifecycleId>();
        var reclaimed = new List<(LifecycleId, string)>();
        var deferred = new List<DeferredGrants>();
        var releasedByClose = new List<LifecycleId>();
        var events = new List<LifecycleEvent>();
        foreach (var record in live.Lifecycles)
        {
            if (record.Id.Kind == LifecycleKind.Import && DeferredAtRecovery(record) is { } pending)
            {
                // Grants the kernel still holds for a frontend, on any device instance: the grant table outlives gntdev files.
                if (record.State != "Deferred")
                {
                    events.Add(new AccessDeferred(record.Id, _services.Clock.GetUtcNow(), [.. pending]));
                    releasedByClose.Add(record.Id);
                }
                var grants = new DeferredGrants(record.Id, pending, record.State == "Deferred" ? record.Updated : _services.Clock.GetUtcNow());
                var (services, id) = (_services, record.Id);
                Session.WatchDeferred(grants, () => JournaledLifecycleActor.OweJournal(services, [new AccessEnded(id, services.Clock.GetUtcNow())]));
                deferred.Add(grants);
                continue;
            }
            bool sameInstance = record.Device == Session.InstanceId;
            // An import released with deferred grants holds nothing of the device: there is nothing to adopt.
            if (sameInstance && record.Id.Kind != LifecycleKind.Map && record.State != "Deferred")
            {
                Route(record.Id.Domain, new DomainLifecycles.Adopt(record), create: true);
                adopted.Add(record.Id);
                continue;
            }
            var kind = record.Id.Kind;
            string reason =
                kind == LifecycleKind.Import && record.State == "Deferred" ? "no deferred grant of it is pending any more (or the device cannot tell: the kernel ends them on its own)"
                : kind == LifecycleKind.Map && sameInstance ? "a mapping cannot be adopted; it is unmapped when this process exits"
                : kind == LifecycleKind.Map ? "unmapped when the old process exited"
                : kind == LifecycleKind.Import ? "the old gntdev instance was closed: its grants were ended (or deferred by the kernel until the frontend unmaps)"
                : "the old gntdev instance is gone: the kernel releases the buffer when its last consumer lets go";
            reclaimed.Add((record.Id, reason));
            events.Add(new Reclaimed(record.Id, _services.Clock.GetUtcNow(), reason));
        }
        if (events.Count > 0) JournaledLifecycleActor.OweJournal(_services, events);
        // Frontends hear of every export and import that died with the old process: reclaimed, or released by its
        // gntdev file's close with grants the kernel deferred (not one whose release the journal already shows).
        var tell = reclaimed.Where(r => r.Item1.Kind != LifecycleKind.Map).Select(r => r.Item1)
            .Concat(releasedByClose)
            .Select(id => id.Domain).Distinct().OrderBy(d => d.Value).ToList();
        _report = new RecoveryReport(live.EventsRecovered, live.FromSnapshot, adopted, reclaimed, tell) { Deferred = deferred };
    }

    /// <summary>
    /// The refs of a journaled import that the kernel still has on its deferred list: those it deferred at a release
    /// the journal recorded, or, for an import the old process never released, those its gntdev file's close
    /// deferred. Null when none is pending or the device cannot tell (then the kernel ends them on its own).
    /// </summary>
    private IReadOnlyList<uint>? DeferredAtRecovery(LifecycleRecord record)
    {
        var asked = record.State == "Deferred" ? record.Deferred : record.Refs;
        if (asked.IsEmpty) return null;
        // An import adopted on this very instance still holds its grants: nothing of it was released.
        if (record.State != "Deferred" && record.Device == Session.InstanceId) return null;
        try
        {
            return Session.Device.PendingEndAccess([.. asked]) is { Count: > 0 } pending ? pending : null;
        }
        catch (GntdevException)
        {
            return null;
        }
    }

    /// <summary>Ready: requests are validated and routed.</summary>
    protected override void OnReceive(object message)
    {
        switch (message)
        {
            case ILifecycleCommand m: Route(m.Id.Domain, m, create: false); break; // the most frequent first
            case ExportedBuffer.Export m: StartLifecycle(LifecycleKind.Export, m.Domain, m, m.Refs?.Count ?? 0); break;
            case ImportAttachment.Import m: StartLifecycle(LifecycleKind.Import, m.Domain, m, m.PageCount); break;
            case GrantMap.Map m: StartLifecycle(LifecycleKind.Map, m.Domain, m, m.Refs?.Count ?? 0); break;
            // A death is remembered even for a domain that never had a lifecycle: later requests are refused.
            case DomainLifecycles.DomainDied m: Route(m.Domain, m, create: !m.Domain.IsReserved); break;
            case GetStatus: AggregateStatus(); break;
            case GetRecoveryReport: Sender.Tell(_report); break;
            case FlushJournal: FlushOwed(); break;
            case ReapParked: Session.ReapParkedNumbers(); Session.ReapEndedAccess(); break;
            case LifecycleJournal.Live: break; // the answer to a repeated question, after the first one was taken
            default: Unhandled(message); break;
        }
    }

    /// <inheritdoc />
    protected override SupervisorStrategy SupervisorStrategy() => LifecycleSupervision.ResumeDomain;

    private void StartLifecycle(LifecycleKind kind, DomainId domain, object request, int pages)
    {
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
        if (Refusal(request) is { } refused)
        {
            Sender.Tell(refused);
            return;
        }
        var id = new LifecycleId(kind, domain, _nextSequence++);
        Route(domain, new DomainLifecycles.Start(id, request, pages), create: true);
    }

    /// <summary>
    /// A request refused here, with the errno the kernel gives, so that nothing reaches the device or the journal:
    /// WC with COHERENT (EINVAL), a negative fd (EBADF); and export flags other than WC and COHERENT (EINVAL),
    /// which the kernel silently ignores: a caller that sets them expects something no device does.
    /// </summary>
    private static OperationFailed? Refusal(object request) => request switch
    {
        ExportedBuffer.Export { Flags: var f } when (f & ~(DmaBufFlags.WriteCombine | DmaBufFlags.Coherent)) != 0 =>
            new(ErrorCode.InvalidArgument, $"unknown export flags 0x{(uint)f:X}: only WC (1) and COHERENT (2) exist", Errno.EINVAL),
        ExportedBuffer.Export { Flags: DmaBufFlags.WriteCombine | DmaBufFlags.Coherent } =>
            new(ErrorCode.InvalidArgument, "WC and COHERENT exclude each other", Errno.EINVAL),
        ImportAttachment.Import { Fd: < 0 } i => new(ErrorCode.InvalidArgument, $"fd {i.Fd} is not a file descriptor", Errno.EBADF),
        _ => null,
    };

    private void Route(DomainId domain, object message, bool create)
    {
        if (!_supervisors.TryGetValue(domain, out var supervisor))
        {
            if (!create)
            {
                Sender.Tell(message switch
                {
                    ILifecycleCommand c => DeadLetterAnswerer.NotFound(c),
                    DomainLifecycles.DomainDied d => new DomainLifecycles.DomainCleanupStarted(d.Domain, 0),
                    _ => new OperationFailed(ErrorCode.NotFound, $"no live lifecycle of {domain}"),
                });
                return;
            }
            supervisor = Context.ActorOf(DomainLifecycles.Props(domain, _services, _settings.Quotas, _settings.Export), $"domain-{domain.Value}");
            _supervisors.Add(domain, supervisor);
        }
        supervisor.Forward(message);
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
        var asks = _supervisors.Values
            .Select(c => c.Ask<DomainLifecycles.DomainStatus>(new DomainLifecycles.GetStatus(), TimeSpan.FromSeconds(5)))
            .ToList();
        Task.WhenAll(asks)
            .ContinueWith(t => t.IsCompletedSuccessfully
                ? new BufferManager.Status(t.Result.OrderBy(d => d.Domain.Value).ToList()) { Deferred = Session.Deferred }
                : (object)new OperationFailed(ErrorCode.InvalidState, "a domain supervisor did not answer"), TaskScheduler.Default)
            .PipeTo(Sender);
    }
}
