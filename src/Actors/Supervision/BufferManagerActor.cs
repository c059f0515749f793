using BufferActors.Actors.Lifecycles;
using static BufferActors.Actors.Supervision.BufferManager;

namespace BufferActors.Actors.Supervision;

/// <summary>
/// The root: validates requests, gives each new lifecycle its stable id, creates one supervisor per
/// frontend domain on demand, routes lifecycle commands to it, and aggregates status.
/// </summary>
public sealed class BufferManagerActor : ReceiveActor
{
    private readonly DeviceSession _session;
    private readonly BufferManager.Settings _settings;
    private long _nextSequence = 1;

    /// <summary>Creates the manager.</summary>
    public BufferManagerActor(DeviceSession session, BufferManager.Settings settings)
    {
        _session = session;
        _settings = settings;
        Receive<ExportedBuffer.Export>(m => StartLifecycle(LifecycleKind.Export, m.Domain, m, m.Refs.Count));
        Receive<ImportAttachment.Import>(m => StartLifecycle(LifecycleKind.Import, m.Domain, m, m.PageCount));
        Receive<GrantMap.Map>(m => StartLifecycle(LifecycleKind.Map, m.Domain, m, m.Refs.Count));
        Receive<ILifecycleCommand>(m => Route(m.Id.Domain, m, create: false));
        Receive<DomainLifecycles.DomainDied>(m => Route(m.Domain, m, create: false));
        Receive<GetStatus>(_ => AggregateStatus());
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
        if (pages <= 0 || pages > _session.Device.PageLimit)
        {
            Sender.Tell(new OperationFailed(ErrorCode.InvalidArgument, $"page count {pages} outside 1..{_session.Device.PageLimit}", Errno.EINVAL));
            return;
        }
        var id = new LifecycleId(kind, domain, _nextSequence++);
        Route(domain, new DomainLifecycles.Start(id, request, pages), create: true);
    }

    private void Route(DomainId domain, object message, bool create)
    {
        string name = $"domain-{domain.Value}";
        var supervisor = Context.Child(name);
        if (supervisor.IsNobody())
        {
            if (!create)
            {
                Sender.Tell(message switch
                {
                    ExportedBuffer.WaitReleased w => new ExportedBuffer.WaitResult(w.Id, WaitReleasedResult.NotFound),
                    DomainLifecycles.DomainDied d => new DomainLifecycles.DomainCleanupStarted(d.Domain, 0),
                    _ => new OperationFailed(ErrorCode.NotFound, $"no live lifecycle of {domain}"),
                });
                return;
            }
            supervisor = Context.ActorOf(DomainLifecycles.Props(domain, _session, _settings.Quotas, _settings.Export), name);
        }
        supervisor.Forward(message);
    }

    private void AggregateStatus()
    {
        var asks = Context.GetChildren()
            .Select(c => c.Ask<DomainLifecycles.DomainStatus>(new DomainLifecycles.GetStatus(), TimeSpan.FromSeconds(5)))
            .ToList();
        Task.WhenAll(asks)
            .ContinueWith(t => t.IsCompletedSuccessfully
                ? new BufferManager.Status(t.Result.OrderBy(d => d.Domain.Value).ToList())
                : (object)new OperationFailed(ErrorCode.InvalidState, "a domain supervisor did not answer"), TaskScheduler.Default)
            .PipeTo(Sender);
    }
}
