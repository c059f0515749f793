using LifecycleEvent = BufferActors.Actors.Persistence.LifecycleEvent;
using LifecycleRecord = BufferActors.Actors.Persistence.LifecycleRecord;
using Events = BufferActors.Actors.Persistence;
using static BufferActors.Actors.Lifecycles.ImportAttachment;

namespace BufferActors.Actors.Lifecycles;

/// <summary>
/// One dma-buf imported and granted page by page to a frontend. Release (requested, or on any stop)
/// issues IMP_RELEASE exactly once: the kernel ends every grant, parking refs the frontend still maps
/// on its deferred list with their pages pinned, then unmaps, detaches and drops the buffer.
/// </summary>
public sealed class ImportAttachmentActor : JournaledLifecycleActor
{
    private Import? _request; // set by the start (or from the journal when adopted)
    private int? _importedFd;

    /// <summary>Creates the actor for lifecycle <paramref name="id"/>; the import happens on <see cref="StartLifecycle"/>.</summary>
    public ImportAttachmentActor(LifecycleId id, LifecycleServices services) : base(id, services, null)
    {
    }

    /// <summary>Adopts an import that is still live on this device instance after a restart.</summary>
    public ImportAttachmentActor(LifecycleId id, LifecycleServices services, LifecycleRecord adopted) : base(id, services, adopted)
    {
        _request = new Import(id.Domain, adopted.Fd ?? -1, adopted.PageCount);
        _importedFd = adopted.Fd;
    }

    /// <inheritdoc />
    protected override bool Handle(object message) => message switch
    {
        Release m => Run(m, OnRelease),
        LifecycleStatus.Get m => Run(m, _ => Sender.Tell(new LifecycleStatus(Id, Record.State, _request?.Fd, _request?.PageCount ?? 0, 0, false))),
        _ => false,
    };

    /// <summary>Imports and journals the outcome; a refused import is answered and ends the lifecycle with nothing held.</summary>
    protected override void Start(object request)
    {
        var asked = (Import)request;
        _request = asked;
        var requested = new Events.ImportRequested(Id, Now, asked.Fd, asked.PageCount);
        ImportedDmaBuf? import = null;
        var failure = DeviceCall.Try(() => import = Session.Device.ImportDmaBuf(asked.Fd, asked.PageCount, asked.Domain));
        if (failure is not null)
        {
            Persist([requested, new Events.Failed(Id, Now, failure.Code, failure.Detail, failure.Errno)],
                () => { AnswerRequester(failure); Finished(); },
                _ => { AnswerRequester(failure); Finished(); });
            return;
        }
        _importedFd = import!.Fd;
        Persist([requested, new Events.Granted(Id, Now, [.. import.Refs], Session.InstanceId)],
            () => AnswerRequester(new Imported(Id, import.Fd, import.Refs)),
            reason => JournalLost(TakeRequester(), reason));
    }

    private void OnRelease(Release _)
    {
        if (Record.IsFinished)
        {
            // A second release that raced the first one's retirement: the lifecycle is over.
            Sender.Tell(new OperationFailed(ErrorCode.NotFound, $"{Id} is already released"));
            return;
        }
        var caller = Sender;
        ReleaseOnce();
        Persist([new Events.ReleaseRequested(Id, Now), new Events.AccessEnded(Id, Now)],
            () => { caller.Tell(new Released(Id)); Finished(); },
            caller);
    }

    /// <summary>Every way out releases the import, once.</summary>
    protected override void PostStop() => ReleaseOnce();

    private void ReleaseOnce()
    {
        if (_importedFd is not { } fd) return;
        // A failed release changes nothing in the device, so PostStop retrying it is not a double release.
        Session.Device.ReleaseImport(fd);
        _importedFd = null;
    }
}
