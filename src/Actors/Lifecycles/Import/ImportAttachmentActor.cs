using static BufferActors.Actors.Lifecycles.ImportAttachment;
using Events = BufferActors.Actors.Persistence;
using LifecycleEvent = BufferActors.Actors.Persistence.LifecycleEvent;
using LifecycleRecord = BufferActors.Actors.Persistence.LifecycleRecord;

namespace BufferActors.Actors.Lifecycles;

/// <summary>
/// One dma-buf imported and granted page by page to a frontend. Release (requested, or on any stop)
/// issues IMP_RELEASE exactly once: the kernel ends every grant, parking refs the frontend still maps
/// on its deferred list with their pages pinned, then unmaps, detaches and drops the buffer. Refs the device
/// reports deferred are journaled (<see cref="Events.AccessDeferred"/>) and watched by the session until they
/// end (<see cref="DeviceSession.WatchDeferred"/>), when the end is journaled: the journal shows the import
/// live, and a restart reports it, for as long as the frontend keeps the pages.
/// </summary>
public sealed class ImportAttachmentActor : JournaledLifecycleActor
{
    private Import? _request; // set by the start (or from the journal when adopted)
    private int? _importedFd;
    private uint[] _refs = []; // granted; for asking which of them the kernel deferred at release

    /// <summary>Creates the actor for lifecycle <paramref name="id"/>; the import happens on <see cref="StartLifecycle"/>.</summary>
    public ImportAttachmentActor(LifecycleId id, LifecycleServices services) : base(id, services, null)
    {
    }

    /// <summary>Adopts an import that is still live on this device instance after a restart.</summary>
    public ImportAttachmentActor(LifecycleId id, LifecycleServices services, LifecycleRecord adopted) : base(id, services, adopted)
    {
        _request = new Import(id.Domain, adopted.Fd ?? -1, adopted.PageCount);
        _importedFd = adopted.Fd;
        _refs = [.. adopted.Refs];
    }

    /// <inheritdoc />
    protected override bool Handle(object message) => message switch
    {
        Release m => Run(m, OnRelease),
        LifecycleStatus.Get m => Run(m, _ => Sender.Tell(new LifecycleStatus(Id, Record.State.Name, _request?.Fd, _request?.PageCount ?? 0, 0, false))),
        _ => false,
    };

    /// <summary>
    /// Imports and journals the outcome; a refused import is answered and ends the lifecycle with nothing held.
    /// The import is made under the lifecycle's own duplicate of the caller's fd, kept until IMP_RELEASE
    /// succeeded: the kernel finds an import by the number it was made under, newest first, so a number
    /// the caller closed and the process reused would release another import.
    /// </summary>
    protected override void Start(object request)
    {
        long startedAt = System.Diagnostics.Stopwatch.GetTimestamp();
        var asked = (Import)request;
        _request = asked;
        int? own = null;
        ImportedDmaBuf? import = null;
        var failure = DeviceCall.Try(() =>
        {
            own = Session.Device.DuplicateFd(asked.Fd);
            import = Session.Device.ImportDmaBuf(own.Value, asked.PageCount, asked.Domain);
        });
        var requested = new Events.ImportRequested(Id, Now, own ?? asked.Fd, asked.PageCount);
        if (failure is not null)
        {
            if (own is { } unused) DeviceCall.Try(() => Session.Device.CloseFd(unused));
            Persist([requested, new Events.Failed(Id, Now, failure.Code, failure.Detail, failure.Errno)],
                () => { AnswerRequester(failure); Finished(); },
                _ => { AnswerRequester(failure); Finished(); });
            return;
        }
        _importedFd = own;
        _refs = [.. import!.Refs];
        Persist([requested, new Events.Granted(Id, Now, _refs, Session.InstanceId)], // an event owns its array, and nothing writes to _refs
            () =>
            {
                Services.Metrics?.Imported(System.Diagnostics.Stopwatch.GetElapsedTime(startedAt));
                AnswerRequester(new Imported(Id, asked.Fd, import.Refs));
            },
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
        var pending = Session.StillDeferred(_refs);
        if (pending.Length == 0)
        {
            Persist([new Events.ReleaseRequested(Id, Now), new Events.AccessEnded(Id, Now)],
                () => { caller.Tell(new Released(Id)); Finished(); },
                caller);
            return;
        }
        // Released as far as the caller and the device go; the journal keeps the import live until the kernel ends the refs.
        Persist([new Events.ReleaseRequested(Id, Now), new Events.AccessDeferred(Id, Now, pending)],
            () => { WatchUntilEnded(Services, new DeferredGrants(Id, pending, Now), journaled: true); caller.Tell(new Released(Id, pending.Length)); Finished(); },
            caller);
    }

    /// <summary>
    /// Every way out releases the import, once, and the journal is owed the end if it has not recorded it: the
    /// access ended, or deferred and then watched by the session like a requested release.
    /// </summary>
    protected override void PostStop()
    {
        if (Record.State == ImportState.Deferred) return; // released and watched: the session journals the end
        ReleaseOnce(); // a release that throws leaves the import live, in the kernel and in the journal alike
        var pending = Session.StillDeferred(_refs);
        if (pending.Length == 0)
        {
            OweEnd([new Events.AccessEnded(Id, Now)]);
            return;
        }
        bool journaled = JournalOwedEnd; // a lifecycle the journal never knew is watched, not journaled
        OweEnd([new Events.AccessDeferred(Id, Now, pending)]);
        WatchUntilEnded(Services, new DeferredGrants(Id, pending, Now), journaled);
    }

    /// <summary>
    /// The session watches <paramref name="grants"/> until the device reports them ended; then, if the journal knows
    /// the import (<paramref name="journaled"/>), its end is owed to the journal. Also how a restart watches them.
    /// </summary>
    internal static void WatchUntilEnded(LifecycleServices services, DeferredGrants grants, bool journaled)
    {
        var id = grants.Id;
        services.Session.WatchDeferred(grants,
            journaled ? () => OweJournal(services, [new Events.AccessEnded(id, services.Clock.GetUtcNow())]) : () => { });
    }

    private void ReleaseOnce()
    {
        if (_importedFd is not { } fd) return;
        // A failed release changes nothing in the device, so PostStop retrying it is not a double release.
        Session.Device.ReleaseImport(fd);
        _importedFd = null;
        Session.Device.CloseFd(fd); // the lifecycle's own duplicate: only now may the number go to another file
    }
}
