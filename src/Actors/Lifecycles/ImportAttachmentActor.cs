using static BufferActors.Actors.Lifecycles.ImportAttachment;

namespace BufferActors.Actors.Lifecycles;

/// <summary>
/// One dma-buf imported and granted page by page to a frontend. Release (requested, or on any stop)
/// issues IMP_RELEASE exactly once: the kernel ends every grant, parking refs the frontend still maps
/// on its deferred list with their pages pinned, then unmaps, detaches and drops the buffer.
/// </summary>
public sealed class ImportAttachmentActor : ReceiveActor
{
    private readonly LifecycleId _id;
    private readonly DeviceSession _session;
    private readonly Import _request;
    private readonly IActorRef _requester;
    private ImportedDmaBuf? _import;

    /// <summary>Creates the lifecycle; the import happens in <see cref="PreStart"/>.</summary>
    public ImportAttachmentActor(LifecycleId id, DeviceSession session, Import request, IActorRef requester)
    {
        _id = id;
        _session = session;
        _request = request;
        _requester = requester;
        Receive<Release>(_ =>
        {
            _session.Checkpoint(_id, nameof(Release));
            ReleaseOnce();
            Sender.Tell(new Released(_id));
            Context.Parent.Tell(new LifecycleFinished(_id));
        });
        Receive<Retire>(_ => Context.Stop(Self));
        Receive<LifecycleStatus.Get>(_ =>
        {
            _session.Checkpoint(_id, nameof(LifecycleStatus.Get));
            Sender.Tell(new LifecycleStatus(_id, _import is null ? "Released" : "Granted", _request.Fd, _request.PageCount, 0, false));
        });
        ReceiveAny(m => Sender.Tell(new OperationFailed(ErrorCode.InvalidArgument, $"{_id} does not take {m.GetType().Name}")));
    }

    /// <summary>Imports; a refused import is answered to the requester and ends the lifecycle with nothing held.</summary>
    protected override void PreStart()
    {
        var failure = DeviceCall.Try(() => _import = _session.Device.ImportDmaBuf(_request.Fd, _request.PageCount, _request.Domain));
        if (failure is not null)
        {
            _requester.Tell(failure);
            Context.Parent.Tell(new LifecycleFinished(_id));
            return;
        }
        _requester.Tell(new Imported(_id, _import!.Fd, _import.Refs));
    }

    /// <summary>Every way out releases the import, once.</summary>
    protected override void PostStop() => ReleaseOnce();

    private void ReleaseOnce()
    {
        if (_import is null) return;
        // A failed release changes nothing in the device, so PostStop retrying it is not a double release.
        _session.Device.ReleaseImport(_import.Fd);
        _import = null;
    }
}
