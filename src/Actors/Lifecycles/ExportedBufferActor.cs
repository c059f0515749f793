using Akka.Event;
using static BufferActors.Actors.Lifecycles.ExportedBuffer;

namespace BufferActors.Actors.Lifecycles;

/// <summary>
/// One dma-buf exported from a frontend's grant refs. It keeps its fd open while any consumer is
/// attached — so the kernel can never unmap pages a device still maps — and closes it only when a
/// release was requested and the last consumer detached. Every <see cref="WaitReleased"/> is answered
/// exactly once. If the actor stops for any reason (failure, domain death, shutdown) its fd is closed
/// in <see cref="PostStop"/>; the kernel then releases the buffer when the last device lets go.
/// </summary>
public sealed class ExportedBufferActor : ReceiveActor, IWithTimers
{
    private readonly LifecycleId _id;
    private readonly DeviceSession _session;
    private readonly ExportSettings _settings;
    private readonly Dictionary<string, DmaDirection> _attachments = [];
    private readonly Dictionary<long, IActorRef> _waiters = [];
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private ExportedDmaBuf? _export;
    private State _state = State.Exported;
    private bool _fdOpen;
    private long _nextWaiter;
    private TimeSpan _probeDelay;
    private DateTime _closedAt;
    private bool _quarantined;

    private readonly Export _request;
    private readonly IActorRef _requester;

    /// <summary>Creates the lifecycle; the export itself happens in <see cref="PreStart"/>.</summary>
    public ExportedBufferActor(LifecycleId id, DeviceSession session, Export request, IActorRef requester, ExportSettings settings)
    {
        _id = id;
        _session = session;
        _settings = settings;
        _request = request;
        _requester = requester;

        Handle<Attach>(OnAttach);
        Handle<Detach>(OnDetach);
        Handle<Release>(_ => OnRelease());
        Handle<WaitReleased>(OnWaitReleased);
        Handle<WaitExpired>(OnWaitExpired);
        Handle<ProbeRelease>(_ => OnProbe());
        Handle<LifecycleStatus.Get>(_ => Sender.Tell(Status()));
        Receive<Retire>(_ => Context.Stop(Self));
        ReceiveAny(m => Sender.Tell(new OperationFailed(ErrorCode.InvalidArgument, $"{_id} does not take {m.GetType().Name}")));
    }

    /// <summary>Timers (wait deadlines, release probes); cancelled automatically when the actor stops.</summary>
    public ITimerScheduler Timers { get; set; } = null!;

    private void Handle<T>(Action<T> handler) => Receive<T>(m =>
    {
        _session.Checkpoint(_id, typeof(T).Name);
        handler(m);
    });

    /// <summary>Exports; a refused export is answered to the requester and ends the lifecycle with nothing held.</summary>
    protected override void PreStart()
    {
        var failure = DeviceCall.Try(() => _export = _session.Export(_request.Flags, _request.Domain, _request.Refs));
        if (failure is not null)
        {
            _requester.Tell(failure);
            _state = State.Released; // nothing is held
            Context.Parent.Tell(new LifecycleFinished(_id));
            return;
        }
        _fdOpen = true;
        _requester.Tell(new Exported(_id, _export!.Fd, _export.PageCount, _export.Flags));
    }

    private void OnAttach(Attach m)
    {
        if (m.Direction == DmaDirection.None || string.IsNullOrWhiteSpace(m.Consumer))
        {
            Sender.Tell(new OperationFailed(ErrorCode.InvalidArgument, "attach needs a consumer name and a direction other than NONE"));
            return;
        }
        if (_state != State.Exported)
        {
            Sender.Tell(new OperationFailed(ErrorCode.InvalidState, $"{_id} is {_state}: no new attachments"));
            return;
        }
        if (_attachments.TryGetValue(m.Consumer, out var dir) && dir != m.Direction)
        {
            // The exporter caches one direction per attachment; another one is EBUSY in the kernel.
            Sender.Tell(new OperationFailed(ErrorCode.Device, $"{m.Consumer} is attached {dir}, not {m.Direction}", Errno.EBUSY));
            return;
        }
        _attachments[m.Consumer] = m.Direction;
        Sender.Tell(new Attached(_id, m.Consumer, m.Direction, _attachments.Count));
    }

    private void OnDetach(Detach m)
    {
        if (!_attachments.Remove(m.Consumer))
        {
            Sender.Tell(new OperationFailed(ErrorCode.NotFound, $"{m.Consumer} is not attached to {_id}"));
            return;
        }
        Sender.Tell(new Detached(_id, m.Consumer, _attachments.Count));
        if (_state == State.Releasing && _attachments.Count == 0) CloseAndProbe();
    }

    private void OnRelease()
    {
        if (_state != State.Exported)
        {
            Sender.Tell(new ReleaseAccepted(_id, _attachments.Count));
            return;
        }
        _state = State.Releasing;
        Sender.Tell(new ReleaseAccepted(_id, _attachments.Count));
        if (_attachments.Count == 0) CloseAndProbe();
    }

    private void OnWaitReleased(WaitReleased m)
    {
        if (_state == State.Released)
        {
            Sender.Tell(new WaitResult(_id, WaitReleasedResult.Released));
            return;
        }
        if (m.Timeout <= TimeSpan.Zero)
        {
            Sender.Tell(new WaitResult(_id, WaitReleasedResult.TimedOut));
            return;
        }
        long waiter = _nextWaiter++;
        Timers.StartSingleTimer(("wait", waiter), new WaitExpired(waiter), m.Timeout);
        _waiters.Add(waiter, Sender);
    }

    private void OnWaitExpired(WaitExpired m)
    {
        if (_waiters.Remove(m.WaiterId, out var who)) who.Tell(new WaitResult(_id, WaitReleasedResult.TimedOut));
    }

    private void CloseAndProbe()
    {
        _closedAt = DateTime.UtcNow;
        _fdOpen = false; // before the call: if the probe throws after the close, PostStop must not close the number again
        var probe = _session.CloseAndProbe(_export!.Fd);
        if (probe == WaitReleasedResult.TimedOut)
        {
            // Someone we were not told about still holds the buffer: poll with back-off, never give up silently.
            _state = State.AwaitingExternalRelease;
            _probeDelay = _settings.FirstProbe;
            Timers.StartSingleTimer("probe", new ProbeRelease(), _probeDelay);
            return;
        }
        Finish();
    }

    private void OnProbe()
    {
        if (_state != State.AwaitingExternalRelease) return;
        if (_session.Probe(_export!.Fd) != WaitReleasedResult.TimedOut)
        {
            Finish();
            return;
        }
        if (!_quarantined && DateTime.UtcNow - _closedAt >= _settings.QuarantineAfter)
        {
            _quarantined = true;
            _log.Warning("{0}: fd {1} still held after {2}; quarantined, still polling", _id, _export.Fd, _settings.QuarantineAfter);
        }
        _probeDelay = TimeSpan.FromTicks(Math.Min(_probeDelay.Ticks * 2, _settings.MaxProbe.Ticks));
        Timers.StartSingleTimer("probe", new ProbeRelease(), _probeDelay);
    }

    private void Finish()
    {
        _state = State.Released;
        AnswerWaiters(WaitReleasedResult.Released);
        Context.Parent.Tell(new LifecycleFinished(_id));
    }

    private LifecycleStatus Status() => new(_id, _state.ToString(), _export?.Fd, _export?.PageCount ?? 0, _attachments.Count, _quarantined);

    /// <summary>Cleanup on every way out: close the fd if still open, answer every waiter.</summary>
    protected override void PostStop()
    {
        // A buffer someone else still holds is not released: its waiters hear TimedOut, never Released.
        var result = _state == State.AwaitingExternalRelease ? WaitReleasedResult.TimedOut : WaitReleasedResult.Released;
        try
        {
            if (_fdOpen && _export is not null)
            {
                _fdOpen = false;
                if (_session.CloseAndProbe(_export.Fd) == WaitReleasedResult.TimedOut) result = WaitReleasedResult.TimedOut;
            }
        }
        finally
        {
            AnswerWaiters(result); // every waiter is answered exactly once, even if the close throws
        }
    }

    private void AnswerWaiters(WaitReleasedResult result)
    {
        foreach (var who in _waiters.Values) who.Tell(new WaitResult(_id, result));
        _waiters.Clear();
    }
}
