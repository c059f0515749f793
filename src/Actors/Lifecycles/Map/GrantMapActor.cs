using static BufferActors.Actors.Lifecycles.GrantMap;
using Events = BufferActors.Actors.Persistence;
using LifecycleEvent = BufferActors.Actors.Persistence.LifecycleEvent;
using LifecycleRecord = BufferActors.Actors.Persistence.LifecycleRecord;

namespace BufferActors.Actors.Lifecycles;

/// <summary>Foreign grant refs mapped into the host for CPU access; unmapped exactly once, on request or on any stop.</summary>
public sealed class GrantMapActor : JournaledLifecycleActor
{
    private int _pages;
    private GrantMapping? _mapping;
    private PeerGrantMapping? _peerMapping;

    /// <summary>Creates the actor for lifecycle <paramref name="id"/>; the map happens on <see cref="StartLifecycle"/>.</summary>
    public GrantMapActor(LifecycleId id, LifecycleServices services) : base(id, services, null)
    {
    }

    /// <inheritdoc />
    protected override bool Handle(object message) => message switch
    {
        Unmap m => Run(m, OnUnmap),
        LifecycleStatus.Get m => Run(m, _ => Sender.Tell(new LifecycleStatus(Id, Record.State.Name, null, _pages, 0, false))),
        _ => false,
    };

    /// <summary>Maps and journals the outcome; a refused map is answered and ends the lifecycle with nothing held.</summary>
    protected override void Start(object request)
    {
        var map = (Map)request;
        _pages = map.Refs.Count;
        var requested = new Events.MapRequested(Id, Now, map.Refs.ToArray(), map.ReadOnly);
        var failure = map.ForPeer
            ? DeviceCall.Try(() => _peerMapping = Session.Device.MapGrantRefsForPeer(map.Domain, requested.Refs, map.ReadOnly))
            : DeviceCall.Try(() => _mapping = Session.Device.MapGrantRefs(map.Domain, requested.Refs, map.ReadOnly));
        if (failure is not null)
        {
            Persist([requested, new Events.Failed(Id, Now, failure.Code, failure.Detail, failure.Errno)],
                () => { AnswerRequester(failure); Finished(); },
                _ => { AnswerRequester(failure); Finished(); });
            return;
        }
        object answer = _peerMapping is { } peer ? new MappedForPeer(Id, peer) : new Mapped(Id, _mapping!.Pages);
        Persist([requested, new Events.Mapped(Id, Now, _peerMapping?.Index ?? _mapping!.Index, Session.InstanceId)],
            () => AnswerRequester(answer),
            reason => JournalLost(TakeRequester(), reason));
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

    /// <summary>Every way out unmaps, once, and the journal is owed the end if it has not recorded it.</summary>
    protected override void PostStop()
    {
        UnmapOnce(); // an unmap that throws leaves the mapping live, in the device and in the journal alike
        OweEnd([new Events.Unmapped(Id, Now)]);
    }

    private void UnmapOnce()
    {
        // A failed unmap changes nothing in the device, so PostStop retrying it is not a double unmap.
        if (_mapping is not null)
        {
            Session.Device.UnmapGrantRefs(_mapping);
            _mapping = null;
        }
        if (_peerMapping is not null)
        {
            Session.Device.UnmapPeerGrantRefs(_peerMapping);
            _peerMapping = null;
        }
    }
}
