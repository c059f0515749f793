using Akka.Event;
using static BufferActors.Actors.Lifecycles.ExportedBuffer;
using Events = BufferActors.Actors.Persistence;
using LifecycleEvent = BufferActors.Actors.Persistence.LifecycleEvent;
using LifecycleRecord = BufferActors.Actors.Persistence.LifecycleRecord;

namespace BufferActors.Actors.Lifecycles;

/// <summary>
/// One dma-buf exported from a frontend's grant refs. It keeps its fd open while any consumer is
/// attached — so the kernel can never unmap pages a device still maps — and closes it only when a
/// release was requested and the last consumer detached. Every <see cref="WaitReleased"/> is answered
/// exactly once. If the actor stops for any reason (failure, domain death, shutdown) its fd is closed
/// in <see cref="PostStop"/>; the kernel then releases the buffer when the last device lets go.
/// </summary>
public sealed class ExportedBufferActor : JournaledLifecycleActor
{
    private readonly ExportSettings _settings;
    // Parked waiters in the order they came (ParkedWaiter): most lifecycles never have one while live, and at
    // 100,000 live lifecycles every per-actor object counts (docs/performance.md, "Scale").
    private ParkedWaiter? _waiters;
    private ExportedDmaBuf? _export;
    private bool _fdOpen;      // the lifecycle holds its reference to the dma-buf through its fd
    private bool _placeholder; // the fd's number is held by a placeholder until the buffer is released
    private bool _kernelReleased; // the kernel answered released: the journal may not have heard yet
    private bool _kernelWaiting; // a blocking EXP_WAIT_RELEASED runs off the actor for a parked waiter
    private long _nextWaiter;
    private TimeSpan _probeDelay;
    private DateTimeOffset _closedAt;

    /// <summary>Creates the actor for lifecycle <paramref name="id"/>; the export happens on <see cref="StartLifecycle"/>.</summary>
    public ExportedBufferActor(LifecycleId id, LifecycleServices services, ExportSettings settings)
        : base(id, services, null)
    {
        _settings = settings;
    }

    /// <summary>Adopts an export that is still live on this device instance after a restart.</summary>
    public ExportedBufferActor(LifecycleId id, LifecycleServices services, LifecycleRecord adopted, ExportSettings settings)
        : base(id, services, adopted)
    {
        _settings = settings;
        _export = new ExportedDmaBuf(adopted.Fd ?? -1, id.Domain, [.. adopted.Refs], adopted.Flags);
        // A number its previous actor parked holds a placeholder; otherwise the fd is the dma-buf's.
        _placeholder = services.Session.Unpark(_export.Fd);
        _fdOpen = !_placeholder;
        _nextWaiter = adopted.OpenWaits.IsEmpty ? 0 : adopted.OpenWaits.Max() + 1;
    }

    /// <inheritdoc />
    // A switch with the checkpoint written out rather than Run(m, OnAttach): an instance method group becomes a
    // new delegate at every call, and an export's every step comes through here.
    protected override bool Handle(object message)
    {
        switch (message)
        {
            case Attach m: Checkpoint(nameof(Attach)); OnAttach(m); return true;
            case Detach m: Checkpoint(nameof(Detach)); OnDetach(m); return true;
            case Release m: Checkpoint(nameof(Release)); OnRelease(m); return true;
            case WaitReleased m: return Park(m);
            case WaitExpired m: Checkpoint(nameof(WaitExpired)); OnWaitExpired(m); return true;
            case ProbeRelease m: Checkpoint(nameof(ProbeRelease)); OnProbe(m); return true;
            case KernelWaitEnded m: Checkpoint(nameof(KernelWaitEnded)); OnKernelWaitEnded(m); return true;
            case LifecycleStatus.Get: Checkpoint(nameof(LifecycleStatus.Get)); Sender.Tell(Status()); return true;
            default: return false;
        }
    }

    private bool Park(WaitReleased m)
    {
        // The caller is owed exactly one answer even if this handler fails: it is held as a waiter
        // before anything can throw, so PostStop answers it on every way out.
        long waiter = _nextWaiter++;
        AddWaiter(new ParkedWaiter(waiter, Sender, Self));
        CallerAnsweredOnEveryWayOut();
        Checkpoint(nameof(WaitReleased));
        OnWaitReleased(m, waiter);
        return true;
    }

    /// <summary>An adopted export re-checks a release that was under way (only an adopted one can be releasing before it starts).</summary>
    protected override void PreStart()
    {
        if (Record.State != LifecycleState.Releasing || !Record.Attachments.IsEmpty) return;
        if (GiveUp()) Finish();
        else ProbeAgainFromTheStart();
    }

    /// <summary>
    /// Exports and journals it; a refused export is answered and ends the lifecycle with nothing held. A
    /// reused actor (its last lifecycle finished, holding nothing) starts from a clean state.
    /// </summary>
    protected override void Start(object request)
    {
        _export = null;
        _kernelReleased = false;
        Export((Export)request);
    }

    private void Export(Export request)
    {
        long startedAt = System.Diagnostics.Stopwatch.GetTimestamp();
        // With a journal, one copy of the caller's refs, so that the journal records exactly what the device
        // exported whatever the caller does with its array afterwards; without one, nothing reads them later.
        var refs = Services.Journal is null && request.Refs is uint[] callers ? callers : request.Refs.ToArray();
        var now = Now; // one reading for the step's events: the clock is read per call
        var requested = new Events.ExportRequested(Id, now, refs, request.Flags);
        var failure = DeviceCall.Try(() => _export = Session.Export(request.Flags, request.Domain, requested.Refs));
        if (failure is not null)
        {
            Persist([requested, new Events.Failed(Id, now, failure.Code, failure.Detail, failure.Errno)],
                () => { AnswerRequester(failure); Finished(); },
                _ => { AnswerRequester(failure); Finished(); });
            return;
        }
        _fdOpen = true;
        var export = _export!;
        Microsoft.Win32.SafeHandles.SafeFileHandle? shared = null;
        if (request.ShareWithRequester && DeviceCall.Try(() => shared = Session.Device.ShareDmaBuf(export.Fd)) is { } notShared)
        {
            // The requester cannot have the buffer it asked for: the export goes again (its only reference is ours).
            _fdOpen = false;
            Session.Device.CloseFd(export.Fd);
            _export = null;
            Persist([requested, new Events.Failed(Id, now, notShared.Code, notShared.Detail, notShared.Errno)],
                () => { AnswerRequester(notShared); Finished(); },
                _ => { AnswerRequester(notShared); Finished(); });
            return;
        }
        var events = new List<LifecycleEvent> { requested, new Events.Exported(Id, now, export.Fd, export.PageCount, Session.InstanceId) };
        if ((export.Flags & (DmaBufFlags.WriteCombine | DmaBufFlags.Coherent)) != 0) events.Add(new Events.ReservationDecreased(Id, now, export.PageCount));
        Persist(events,
            () =>
            {
                Services.Metrics?.Exported(System.Diagnostics.Stopwatch.GetElapsedTime(startedAt));
                AnswerRequester(new Exported(Id, export.Fd, export.PageCount, export.Flags) { Shared = shared });
            },
            reason =>
            {
                shared?.Dispose(); // never handed over: the lifecycle is lost and releases the buffer
                JournalLost(TakeRequester(), reason);
            });
    }

    private void OnAttach(Attach m)
    {
        if (m.Direction is not (DmaDirection.Bidirectional or DmaDirection.ToDevice or DmaDirection.FromDevice) || string.IsNullOrWhiteSpace(m.Consumer))
        {
            Sender.Tell(new OperationFailed(ErrorCode.InvalidArgument, "attach needs a consumer name and a direction: BIDIRECTIONAL, TO_DEVICE or FROM_DEVICE"));
            return;
        }
        if (Record.State != ExportState.Exported)
        {
            Sender.Tell(new OperationFailed(ErrorCode.InvalidState, $"{Id} is {StateName}: no new attachments"));
            return;
        }
        if (Record.Attachments.TryGetValue(m.Consumer, out var dir))
        {
            // The exporter caches one direction per attachment; another one is EBUSY in the kernel.
            Sender.Tell(dir == m.Direction
                ? new Attached(Id, m.Consumer, m.Direction, Record.Attachments.Count)
                : new OperationFailed(ErrorCode.Device, $"{m.Consumer} is attached {dir}, not {m.Direction}", Errno.EBUSY));
            return;
        }
        var caller = Sender;
        Persist(new Events.Attached(Id, Now, m.Consumer, m.Direction),
            () => caller.Tell(new Attached(Id, m.Consumer, m.Direction, Record.Attachments.Count)),
            caller);
    }

    private void OnDetach(Detach m)
    {
        if (!Record.Attachments.ContainsKey(m.Consumer))
        {
            Sender.Tell(new OperationFailed(ErrorCode.NotFound, $"{m.Consumer} is not attached to {Id}"));
            return;
        }
        var caller = Sender;
        var detached = new Events.Detached(Id, Now, m.Consumer);
        if (Record.State == LifecycleState.Releasing && Record.Attachments.Count == 1 && _fdOpen)
        {
            // The last attachment of a release went: the export's reference goes too (if that throws, the lifecycle
            // stops and the caller hears that instead), and the release is journaled with the detach.
            ReleaseWith(detached, () => caller.Tell(new Detached(Id, m.Consumer, 0)), caller);
            return;
        }
        Persist(detached, () => caller.Tell(new Detached(Id, m.Consumer, Record.Attachments.Count)), caller);
    }

    private void OnRelease(Release _)
    {
        if (Record.State != ExportState.Exported)
        {
            Sender.Tell(new ReleaseAccepted(Id, Record.Attachments.Count));
            return;
        }
        var caller = Sender;
        var requested = new Events.ReleaseRequested(Id, Now);
        int pending = Record.Attachments.Count;
        if (pending > 0)
        {
            Persist(requested, () => caller.Tell(new ReleaseAccepted(Id, pending)), caller);
            return;
        }
        ReleaseWith(requested, () => caller.Tell(new ReleaseAccepted(Id, 0)), caller);
    }

    /// <summary>
    /// Gives up the export's own reference for the command that ends its use, <paramref name="step"/>'s, and journals
    /// that step together with what the kernel answered: with the release when it released the buffer at once (one
    /// write, not the step's and then the release's in a row), else alone, and probes for the holder to let go.
    /// If giving up throws, the lifecycle stops and <paramref name="caller"/> hears that (the step is not journaled).
    /// </summary>
    private void ReleaseWith(LifecycleEvent step, Action answer, IActorRef caller)
    {
        if (GiveUp())
        {
            Finish(step, answer);
            return;
        }
        Persist(step, () =>
        {
            ProbeAgainFromTheStart();
            answer();
        }, caller);
    }

    private void OnWaitReleased(WaitReleased m, long waiter)
    {
        if (m.Timeout < TimeSpan.Zero && m.Timeout != Timeout.InfiniteTimeSpan)
        {
            TakeWaiter(waiter)!.Tell(new OperationFailed(ErrorCode.InvalidArgument, $"time-out {m.Timeout} is negative (use Timeout.InfiniteTimeSpan to wait without one)"));
            return;
        }
        if (Record.IsFinished || m.Timeout == TimeSpan.Zero)
        {
            // A lifecycle that is over holds no buffer: released, as the kernel answers for a buffer it no longer has.
            TakeWaiter(waiter)!.Tell(new WaitResult(Id, Record.IsFinished ? WaitReleasedResult.Released : WaitReleasedResult.TimedOut));
            return;
        }
        var caller = Sender;
        Persist(new Events.WaitRequested(Id, Now, waiter, m.Timeout),
            () =>
            {
                // Beyond the kernel's longest wait (2^32-1 ms, 49.7 days) and for InfiniteTimeSpan, no timer: the
                // wait lasts until the release, or until the lifecycle ends.
                if (!ExportedBuffer.WaitsForever(m.Timeout) && FindWaiter(waiter) is { } parked) Dispatch.DeadlineWheels.Shared.Schedule(parked, m.Timeout);
                // A waiter usually comes right after its caller let go (closed its descriptor): look now, and probe
                // from the first delay again, instead of at the end of a back-off grown while the caller held it.
                if (AwaitingExternalRelease) ProbeNow();
            },
            reason =>
            {
                TakeWaiter(waiter); // answered by JournalLost, not again by PostStop
                JournalLost(caller, reason);
            });
    }

    private void OnWaitExpired(WaitExpired m)
    {
        if (TakeWaiter(m.WaiterId) is not { } who) return; // answered before its time-out
        Persist(new Events.WaitAnswered(Id, Now, m.WaiterId, WaitReleasedResult.TimedOut),
            () => who.Tell(new WaitResult(Id, WaitReleasedResult.TimedOut)),
            who);
    }

    /// <summary>
    /// Gives up the export's own reference (its number stays held by a placeholder); true when the kernel released the
    /// buffer at once, false when someone we were not told about still holds it: then the caller polls with back-off,
    /// never giving up silently.
    /// </summary>
    private bool GiveUp()
    {
        _closedAt = Now;
        _fdOpen = false; // before the call: if the probe throws after the replacement, PostStop must not give it up again
        _placeholder = true;
        return Session.GiveUpAndProbe(_export!.Fd) != WaitReleasedResult.TimedOut;
    }

    private void ProbeNow()
    {
        if (Session.Probe(_export!.Fd) != WaitReleasedResult.TimedOut)
        {
            Finish();
            return;
        }
        ProbeAgainFromTheStart();
    }

    /// <summary>Probes again after the first delay, backing off from there; a parked waiter also gets a kernel wait.</summary>
    private void ProbeAgainFromTheStart()
    {
        _probeDelay = _settings.FirstProbe;
        Timers.StartSingleTimer("probe", new ProbeRelease(), _probeDelay);
        WaitInKernel();
    }

    /// <summary>
    /// While a waiter is parked, one blocking EXP_WAIT_RELEASED (at most <see cref="KernelWaitSliceMs"/>) runs off the
    /// actor, so the release is seen when the kernel sees it, not at the next probe of a grown back-off. The number it
    /// names stays this lifecycle's (the placeholder) for as long as the lifecycle awaits the release. The wait blocks a
    /// thread of its own, never a thread-pool worker: held buffers with parked waiters would otherwise starve the pool
    /// that actors on the thread-pool dispatcher, and every continuation, run on.
    /// </summary>
    private void WaitInKernel()
    {
        if (_kernelWaiting || _waiters is null || !AwaitingExternalRelease) return;
        _kernelWaiting = true;
        int fd = _export!.Fd;
        var session = Session;
        Task.Factory.StartNew(() => session.Device.WaitReleased(fd, KernelWaitSliceMs), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default)
            .PipeTo(Self, success: r => new KernelWaitEnded(r), failure: _ => new KernelWaitEnded(WaitReleasedResult.TimedOut));
    }

    /// <summary>The longest one blocking wait lasts; then the probes' back-off goes on, and another wait starts.</summary>
    private const uint KernelWaitSliceMs = 1000;

    private void OnKernelWaitEnded(KernelWaitEnded m)
    {
        _kernelWaiting = false;
        if (!AwaitingExternalRelease) return;
        if (m.Result != WaitReleasedResult.TimedOut)
        {
            Finish();
            return;
        }
        WaitInKernel();
    }

    private void OnProbe(ProbeRelease _)
    {
        if (!AwaitingExternalRelease) return;
        if (Session.Probe(_export!.Fd) != WaitReleasedResult.TimedOut)
        {
            Finish();
            return;
        }
        _probeDelay = TimeSpan.FromTicks(Math.Min(_probeDelay.Ticks * 2, _settings.MaxProbe.Ticks));
        if (!Record.Quarantined && Now - _closedAt >= _settings.QuarantineAfter)
        {
            Context.GetLogger().Warning("{0}: fd {1} still held after {2}; quarantined, still polling", Id, _export.Fd, _settings.QuarantineAfter);
            // The journal says so too: a quarantined buffer is live, and replay shows since when and why.
            var notice = new QuarantineNotice(Id, _export.PageCount, Now - _closedAt);
            Persist(new Events.Quarantined(Id, Now, notice.HeldFor), () =>
            {
                Context.Parent.Tell(new LifecycleQuarantined(Id, notice.PageCount)); // the domain's cap on quarantined exports
                Context.System.EventStream.Publish(notice);
                Timers.StartSingleTimer("probe", new ProbeRelease(), _probeDelay);
            }, caller: null);
            return;
        }
        Timers.StartSingleTimer("probe", new ProbeRelease(), _probeDelay);
    }

    /// <summary>
    /// The buffer is released: journal it — after <paramref name="step"/>, the event of the command that released it,
    /// if any — with the reservation and every waiter's answer, then answer them and the command (<paramref name="answer"/>).
    /// </summary>
    private void Finish(LifecycleEvent? step = null, Action? answer = null)
    {
        _kernelReleased = true;
        FreeNumber();
        var events = ReleaseEvents(step is null ? Record : Record.Apply(step), WaiterIds(), Now);
        if (step is not null) events.Insert(0, step);
        Persist(events, () =>
        {
            AnswerWaiters(WaitReleasedResult.Released);
            answer?.Invoke();
            Finished();
        }, reason =>
        {
            // Released in the kernel all the same: callers hear it (the command too: what it asked for is done), and
            // the journal is owed it.
            Context.GetLogger().Error("{0}: released, journaled later: {1}", Id, reason);
            OweEnd(events);
            AnswerWaiters(WaitReleasedResult.Released);
            answer?.Invoke();
            Context.Stop(Self);
        });
    }

    /// <summary>
    /// What the journal records when the kernel released the buffer: every waiter's answer, the reservation back,
    /// and <see cref="Events.Released"/> last (everything before it still belongs to the live lifecycle). A release
    /// observed after the lifecycle stopped also closes the attachments it recorded: the kernel releases a dma-buf
    /// only once its last attachment is gone.
    /// </summary>
    private static List<LifecycleEvent> ReleaseEvents(LifecycleRecord record, IEnumerable<long>? waiters, DateTimeOffset now)
    {
        var events = new List<LifecycleEvent>();
        // Most releases have no attachment left and at most one waiter: nothing is sorted or enumerated for them.
        if (!record.Attachments.IsEmpty)
            foreach (var consumer in record.Attachments.Keys.Order(StringComparer.Ordinal)) events.Add(new Events.Detached(record.Id, now, consumer));
        if (record.ReservationPages > 0) events.Add(new Events.ReservationRestored(record.Id, now, record.ReservationPages));
        if (waiters is not null)
            foreach (long w in waiters) events.Add(new Events.WaitAnswered(record.Id, now, w, WaitReleasedResult.Released));
        events.Add(new Events.Released(record.Id, now));
        return events;
    }

    /// <summary>
    /// The export's own reference is given up and the kernel has not said released: a holder it was not told about
    /// keeps the buffer (journaled Releasing once the step that gave it up is durable).
    /// </summary>
    private bool AwaitingExternalRelease => !_fdOpen && _export is not null && !_kernelReleased;

    /// <summary>The state as the status names it: the journaled one, or AwaitingExternalRelease while an unknown holder keeps the buffer.</summary>
    private string StateName => AwaitingExternalRelease ? nameof(AwaitingExternalRelease) : Record.State.Name;

    private LifecycleStatus Status() => new(Id, StateName, _export?.Fd, _export?.PageCount ?? 0, Record.Attachments.Count, Record.Quarantined, Record.ReservationPages);

    /// <summary>
    /// Cleanup on every way out: give up the fd if still open, answer every waiter, and owe the journal what
    /// happened. A buffer the kernel released ends the lifecycle in the journal now; one still held stays live
    /// there, its number parked with the session, and is journaled released when the session sees it go.
    /// </summary>
    protected override void PostStop()
    {
        // A buffer someone else still holds is not released: its waiters hear TimedOut, never Released.
        var result = AwaitingExternalRelease ? WaitReleasedResult.TimedOut : WaitReleasedResult.Released;
        try
        {
            if (_fdOpen && _export is not null)
            {
                _fdOpen = false;
                _placeholder = true;
                WaitReleasedResult probe;
                try
                {
                    probe = Session.GiveUpAndProbe(_export.Fd);
                }
                catch (GntdevException)
                {
                    probe = WaitReleasedResult.TimedOut; // not known to be released: parked below, asked again by the session
                }
                if (probe == WaitReleasedResult.TimedOut) result = WaitReleasedResult.TimedOut;
                else FreeNumber();
            }
            var now = Now;
            if (!_placeholder || _export is null)
            {
                // Nothing of the buffer is held any more (or nothing was ever exported).
                if (_export is not null) OweEnd(ReleaseEvents(Record, Record.OpenWaits, now));
                return;
            }
            // A placeholder still here keeps the number of a buffer not known to be released: the session
            // frees it once the kernel says so, unless an actor adopting this lifecycle takes it over first.
            _placeholder = false;
            var services = Services;
            var stopped = Record;
            bool owed = JournalOwedEnd;
            if (owed && !stopped.OpenWaits.IsEmpty)
            {
                OweEnd([.. stopped.OpenWaits.Select(w => new Events.WaitAnswered(stopped.Id, now, w, WaitReleasedResult.TimedOut))]);
                stopped = stopped with { OpenWaits = [] };
            }
            Session.Park(_export.Fd, owed ? () => OweJournal(services, ReleaseEvents(stopped, null, services.Clock.GetUtcNow())) : null);
        }
        finally
        {
            AnswerWaiters(result); // every waiter is answered exactly once, even if the close throws
        }
    }

    private void FreeNumber()
    {
        if (!_placeholder || _export is null) return;
        _placeholder = false;
        Session.FreeNumber(_export.Fd);
    }

    private void AnswerWaiters(WaitReleasedResult result)
    {
        for (var w = _waiters; w is not null; w = w.NextWaiter)
        {
            Dispatch.DeadlineWheels.Shared.Cancel(w);
            w.Who.Tell(new WaitResult(Id, result));
        }
        _waiters = null;
    }

    private void AddWaiter(ParkedWaiter waiter)
    {
        if (_waiters is null)
        {
            _waiters = waiter;
            return;
        }
        var last = _waiters;
        while (last.NextWaiter is not null) last = last.NextWaiter;
        last.NextWaiter = waiter;
    }

    private ParkedWaiter? FindWaiter(long id)
    {
        for (var w = _waiters; w is not null; w = w.NextWaiter) if (w.Id == id) return w;
        return null;
    }

    /// <summary>Unparks waiter <paramref name="id"/>, its time-out cancelled; who it is, or null if it is not parked.</summary>
    private IActorRef? TakeWaiter(long id)
    {
        ParkedWaiter? previous = null;
        for (var w = _waiters; w is not null; previous = w, w = w.NextWaiter)
        {
            if (w.Id != id) continue;
            if (previous is null) _waiters = w.NextWaiter;
            else previous.NextWaiter = w.NextWaiter;
            Dispatch.DeadlineWheels.Shared.Cancel(w);
            return w.Who;
        }
        return null;
    }

    /// <summary>The parked waiters' numbers in the order they came, or null if none is parked.</summary>
    private List<long>? WaiterIds()
    {
        if (_waiters is null) return null;
        var ids = new List<long>();
        for (var w = _waiters; w is not null; w = w.NextWaiter) ids.Add(w.Id);
        return ids;
    }
}
