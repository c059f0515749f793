using LifecycleEvent = BufferActors.Actors.Persistence.LifecycleEvent;
using LifecycleRecord = BufferActors.Actors.Persistence.LifecycleRecord;
using Events = BufferActors.Actors.Persistence;
using static BufferActors.Actors.Lifecycles.GrantMap;

namespace BufferActors.Actors.Lifecycles;

/// <summary>Foreign grant refs mapped into the host for CPU access; unmapped exactly once, on request or on any stop.</summary>
public sealed class GrantMapActor : JournaledLifecycleActor
{
    private readonly Map _request;
    private readonly IActorRef _requester;
    private GrantMapping? _mapping;

    /// <summary>Creates the lifecycle; the map happens in <see cref="PreStart"/>.</summary>
    public GrantMapActor(LifecycleId id, LifecycleServices services, Map request, IActorRef requester) : base(id, services, null)
    {
        _request = request;
        _requester = requester;
    }

    /// <inheritdoc />
    protected override bool Handle(object message) => message switch
    {
        Unmap m => Run(m, OnUnmap),
        LifecycleStatus.Get m => Run(m, _ => Sender.Tell(new LifecycleStatus(Id, Record.State, null, _request.Refs.Count, 0, false))),
        _ => false,
    };

    /// <summary>Maps and journals the outcome; a refused map is answered and ends the lifecycle with nothing held.</summary>
    protected override void PreStart()
    {
        var requested = new Events.MapRequested(Id, Now, _request.Refs.ToArray(), _request.ReadOnly);
        var failure = DeviceCall.Try(() => _mapping = Session.Device.MapGrantRefs(_request.Domain, requested.Refs, _request.ReadOnly));
        if (failure is not null)
        {
            Persist([requested, new Events.Failed(Id, Now, failure.Code, failure.Detail, failure.Errno)],
                () => { _requester.Tell(failure); Finished(); },
                _ => { _requester.Tell(failure); Finished(); });
            return;
        }
        Persist([requested, new Events.Mapped(Id, Now, _mapping!.Index, Session.InstanceId)],
            () => _requester.Tell(new Mapped(Id, _mapping.Pages)),
            _requester);
    }

    private void OnUnmap(Unmap _)
    {
        if (Record.IsFinished)
        {
            // A second unmap that raced the first one's retirement: the lifecycle is over.
            Sender.Tell(new OperationFailed(ErrorCode.NotFound, $"{Id} is already unmapped"));
            return;
        }
        var caller = Sender;
        UnmapOnce();
        Persist([new Events.ReleaseRequested(Id, Now), new Events.Unmapped(Id, Now)],
            () => { caller.Tell(new Unmapped(Id)); Finished(); },
            caller);
    }

    /// <summary>Every way out unmaps, once.</summary>
    protected override void PostStop() => UnmapOnce();

    private void UnmapOnce()
    {
        if (_mapping is null) return;
        // A failed unmap changes nothing in the device, so PostStop retrying it is not a double unmap.
        Session.Device.UnmapGrantRefs(_mapping);
        _mapping = null;
    }
}
