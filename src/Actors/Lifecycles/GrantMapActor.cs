using static BufferActors.Actors.Lifecycles.GrantMap;

namespace BufferActors.Actors.Lifecycles;

/// <summary>Foreign grant refs mapped into the host for CPU access; unmapped exactly once, on request or on any stop.</summary>
public sealed class GrantMapActor : ReceiveActor
{
    private readonly LifecycleId _id;
    private readonly DeviceSession _session;
    private readonly Map _request;
    private readonly IActorRef _requester;
    private GrantMapping? _mapping;

    /// <summary>Creates the lifecycle; the map happens in <see cref="PreStart"/>.</summary>
    public GrantMapActor(LifecycleId id, DeviceSession session, Map request, IActorRef requester)
    {
        _id = id;
        _session = session;
        _request = request;
        _requester = requester;
        Receive<Unmap>(_ =>
        {
            _session.Checkpoint(_id, nameof(Unmap));
            UnmapOnce();
            Sender.Tell(new Unmapped(_id));
            Context.Parent.Tell(new LifecycleFinished(_id));
        });
        Receive<Retire>(_ => Context.Stop(Self));
        Receive<LifecycleStatus.Get>(_ =>
        {
            _session.Checkpoint(_id, nameof(LifecycleStatus.Get));
            Sender.Tell(new LifecycleStatus(_id, _mapping is null ? "Unmapped" : "Mapped", null, _request.Refs.Count, 0, false));
        });
        ReceiveAny(m => Sender.Tell(new OperationFailed(ErrorCode.InvalidArgument, $"{_id} does not take {m.GetType().Name}")));
    }

    /// <summary>Maps; a refused map is answered to the requester and ends the lifecycle with nothing held.</summary>
    protected override void PreStart()
    {
        var refs = _request.Refs as uint[] ?? [.. _request.Refs];
        var failure = DeviceCall.Try(() => _mapping = _session.Device.MapGrantRefs(_request.Domain, refs, _request.ReadOnly));
        if (failure is not null)
        {
            _requester.Tell(failure);
            Context.Parent.Tell(new LifecycleFinished(_id));
            return;
        }
        _requester.Tell(new Mapped(_id, _mapping!.Pages));
    }

    /// <summary>Every way out unmaps, once.</summary>
    protected override void PostStop() => UnmapOnce();

    private void UnmapOnce()
    {
        if (_mapping is null) return;
        // A failed unmap changes nothing in the device, so PostStop retrying it is not a double unmap.
        _session.Device.UnmapGrantRefs(_mapping);
        _mapping = null;
    }
}
