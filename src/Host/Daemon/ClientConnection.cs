using System.Collections.Concurrent;
using System.Runtime.InteropServices;
using BufferActors.Actors;
using BufferActors.Actors.Api;
using BufferActors.Actors.Lifecycles;
using BufferActors.Actors.Supervision;
using BufferActors.Host.Daemon.Protocol;
using BufferActors.Native;
using BufferActors.Native.Linux;
using Microsoft.Extensions.Logging;
using Microsoft.Win32.SafeHandles;

namespace BufferActors.Host.Daemon;

/// <summary>
/// One client of the daemon: its socket, the lifecycles it owns (by handle), and the requests it has in flight.
/// A reader thread takes frames in order; each request runs on its own, so a pending wait holds up nothing; every
/// request is answered once. When the connection ends — the client closed it, died, or broke the protocol — what it
/// owned ends as for a dead frontend (imports released, exports released).
/// </summary>
internal sealed class ClientConnection
{
    private readonly SeqPacketSocket _socket;
    private readonly BufferActorsClient _client;
    private readonly IGrantDevice _device;
    private readonly DaemonPolicy _policy;
    private readonly WireDevice _deviceKind;
    private readonly ILogger _log;
    private readonly Func<Task<DaemonStatus>> _daemonStatus;
    private readonly ConcurrentDictionary<ulong, (LifecycleId Id, int Pages)> _owned = new();
    // Imports this connection released whose deferred grants may still end: import → its handle, for ACCESS_ENDED.
    private readonly ConcurrentDictionary<LifecycleId, ulong> _releasedImports = new();
    private readonly UidQuotas _quotas;
    private long _pages;
    private readonly HashSet<uint> _inFlight = [];
    private readonly object _sendLock = new();
    private readonly TaskCompletionSource _ended = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private WireCapabilities _granted;
    private volatile WireEvents _subscribed;
    private bool _greeted;
    private volatile bool _closing;
    private bool _stopping; // guarded by _inFlight
    private int _unsent; // requests taken whose answer has not gone yet; guarded by _inFlight
    private readonly TaskCompletionSource _allAnswered = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public ClientConnection(SeqPacketSocket socket, BufferActorsClient client, IGrantDevice device, WireDevice deviceKind, DaemonPolicy policy, ILogger log, Func<Task<DaemonStatus>> daemonStatus, UidQuotas quotas)
    {
        _daemonStatus = daemonStatus;
        _quotas = quotas;
        // A client that stops reading holds one reply thread for this long, then is cut off; others are not slowed.
        socket.SetSendTimeout(policy.SendTimeout);
        _socket = socket;
        _client = client;
        _device = device;
        _deviceKind = deviceKind;
        _policy = policy;
        _log = log;
    }

    /// <summary>The peer, as the kernel named it at connect.</summary>
    public PeerCredentials Peer => _socket.Peer;

    /// <summary>Lifecycles the connection owns now.</summary>
    public int Owned => _owned.Count;

    /// <summary>Completes once the connection is closed and everything it owned was ended.</summary>
    public Task Ended => _ended.Task;

    /// <summary>Starts the reader thread.</summary>
    public void Start()
    {
        var reader = new Thread(ReadLoop) { IsBackground = true, Name = $"bufferactors client pid {Peer.Pid}" };
        reader.Start();
    }

    /// <summary>
    /// Ends the connection from the daemon's side as it stops: requests from now on are refused (<c>Stopped</c>), those
    /// in flight are answered first (for at most <paramref name="grace"/>: a wait may outlast it), then the peer hears
    /// why, and its lifecycles end.
    /// </summary>
    public async Task CloseAsync(TimeSpan grace)
    {
        Task answered;
        lock (_inFlight)
        {
            _stopping = true;
            answered = _unsent == 0 ? Task.CompletedTask : _allAnswered.Task;
        }
        await Task.WhenAny(answered, Task.Delay(grace)).ConfigureAwait(false);
        Goodbye(GoodbyeReason.Stopping, "the daemon stops");
        _socket.Shutdown();
    }

    private void ReadLoop()
    {
        // A request's steps run on this thread when the actors can take them at once: no hop to the pool and back.
        BufferActors.Actors.Dispatch.InlineDispatcher.RunInlineOnThisThread();
        var buffer = new byte[FrameHeader.Size + FrameHeader.MaxPayload];
        var fds = new List<SafeFileHandle>(1);
        try
        {
            while (!_closing)
            {
                int length;
                try
                {
                    length = _socket.Receive(buffer, fds);
                }
                catch (UnixSocketException e) when (e.Errno == Errno.EMSGSIZE)
                {
                    Goodbye(GoodbyeReason.ProtocolError, e.Detail);
                    break;
                }
                if (length < 0) break; // the client closed its end (or died)
                try
                {
                    var (header, message) = WireCodec.Decode(buffer.AsSpan(0, length), fds.Count);
                    Take(header, message, fds.Count == 1 ? fds[0] : null);
                }
                catch (ProtocolViolationException e)
                {
                    _log.LogWarning("client uid {Uid} pid {Pid}: protocol error: {Message}", Peer.Uid, Peer.Pid, e.Message);
                    Goodbye(GoodbyeReason.ProtocolError, e.Message);
                    break;
                }
                finally
                {
                    // A request's descriptor is used, and copied where it must outlive it, before Take returns.
                    foreach (var fd in fds) fd.Dispose();
                    fds.Clear();
                }
            }
        }
        catch (UnixSocketException e)
        {
            _log.LogInformation("client uid {Uid} pid {Pid}: connection failed: {Message}", Peer.Uid, Peer.Pid, e.Message);
        }
        finally
        {
            _closing = true;
            _ = EndEverythingAsync();
        }
    }

    /// <summary>One decoded frame: the handshake, or a request (run on its own), or a protocol violation.</summary>
    private void Take(FrameHeader header, WireMessage message, SafeFileHandle? fd)
    {
        if ((ushort)header.Opcode >= 0x0100) throw new ProtocolViolationException($"{header.Opcode} is not a request");
        if (!_greeted)
        {
            if (message is not Hello hello) throw new ProtocolViolationException($"{header.Opcode} before HELLO");
            Greet(header.RequestId, hello);
            return;
        }
        if (message is Hello) throw new ProtocolViolationException("a second HELLO");
        lock (_inFlight)
        {
            if (_stopping)
            {
                Reply(header.RequestId, Refused(WireErrorCode.Stopped, "the daemon stops"));
                return;
            }
            if (!_inFlight.Add(header.RequestId)) throw new ProtocolViolationException($"request id {header.RequestId} is already in flight");
            if (_inFlight.Count > _policy.MaxInFlight)
            {
                _inFlight.Remove(header.RequestId);
                Reply(header.RequestId, Refused(WireErrorCode.Busy, $"more than {_policy.MaxInFlight} requests in flight"));
                return;
            }
            _unsent++;
        }
        // A descriptor the request brings is adopted now, before the reader closes its copy.
        int adopted = -1;
        if (message is ImportRequest)
        {
            try
            {
                adopted = _device.AdoptDmaBuf(fd!);
            }
            catch (GntdevException e)
            {
                Answer(header.RequestId, Refused(WireErrorCode.InvalidArgument, $"the descriptor is not a dma-buf: {e.Detail}", e.Errno));
                return;
            }
        }
        _ = Serve(header.RequestId, message, adopted);
    }

    private void Greet(uint requestId, Hello hello)
    {
        if (hello.MinVersion > WireCodec.Version || hello.MaxVersion < WireCodec.Version || hello.MinVersion > hello.MaxVersion)
        {
            Reply(requestId, Refused(WireErrorCode.VersionMismatch, $"this daemon speaks version {WireCodec.Version} only"));
            throw new ProtocolViolationException($"no common version in {hello.MinVersion}..{hello.MaxVersion}");
        }
        _greeted = true;
        // Only operators read the daemon's status, which counts every client's lifecycles, and release destroyed domains.
        const WireCapabilities operators = WireCapabilities.DaemonStatus | WireCapabilities.ReleaseDomain;
        var offered = WireCapabilities.Export | WireCapabilities.Import | WireCapabilities.Map | WireCapabilities.Events
            | (_policy.IsOperator(Peer.Uid) ? operators : 0);
        if (!_policy.DomainsByUid.ContainsKey(Peer.Uid)) offered &= operators;
        _granted = hello.Capabilities & offered;
        Reply(requestId, new HelloOk(WireCodec.Version, _deviceKind, _granted, FrameHeader.MaxPayload, (uint)_policy.MaxInFlight, (uint)Peer.Uid));
    }

    private async Task Serve(uint requestId, WireMessage request, int adopted)
    {
        WireMessage answer;
        Carried? carried = null;
        try
        {
            (answer, carried) = await Handle(request, adopted).ConfigureAwait(false);
        }
        catch (BufferActorsException e)
        {
            answer = Refused(Code(e.Code), e.Failure.Detail, e.Failure.Errno, e.Failure.GrantStatus);
        }
        catch (TimeoutException e)
        {
            answer = Refused(WireErrorCode.Stopped, e.Message);
        }
#pragma warning disable CA1031 // the request boundary: whatever went wrong, the client is answered once and the daemon goes on
        catch (Exception e)
#pragma warning restore CA1031
        {
            _log.LogError(e, "client uid {Uid} pid {Pid}: {Request} failed", Peer.Uid, Peer.Pid, request.Opcode);
            answer = Refused(WireErrorCode.Stopped, $"{request.Opcode} failed in the daemon: {e.Message}");
        }
        finally
        {
            if (adopted >= 0) TryClose(adopted); // the import holds its own duplicate from now on
        }
        using (carried) Answer(requestId, answer, carried?.Handle);
    }

    private async Task<(WireMessage, Carried?)> Handle(WireMessage request, int adopted)
    {
        switch (request)
        {
            case ExportRequest export:
                if (Denied(WireCapabilities.Export, export.Domid) is { } no) return (no, null);
                if (Quota(export.Refs.Length) is { } overExport) return (overExport, null);
                var exported = await StartOwned(export.Refs.Length,
                    () => _client.ExportSharedAsync(new DomainId(export.Domid), export.Refs, (DmaBufFlags)export.Flags), e => e.Id).ConfigureAwait(false);
                if (exported.Shared is null)
                {
                    await EndAsync((ulong)exported.Id.Sequence).ConfigureAwait(false);
                    return (Refused(WireErrorCode.Device, "the export came without a descriptor for the client"), null);
                }
                return (new ExportedReply((ulong)exported.Id.Sequence, (uint)exported.PageCount, (uint)exported.Flags), Carried.Given(exported.Shared));
            case ImportRequest import:
                if (Denied(WireCapabilities.Import, import.Domid) is { } notImport) return (notImport, null);
                int importPages = (int)Math.Min(import.PageCount, int.MaxValue);
                if (Quota(importPages) is { } overImport) return (overImport, null);
                var imported = await StartOwned(importPages, () => _client.ImportAsync(new DomainId(import.Domid), adopted, importPages), i => i.Id).ConfigureAwait(false);
                return (new ImportedReply((ulong)imported.Id.Sequence, [.. imported.Refs]), null);
            case HandleRequest { Request: WireOpcode.Release } release:
                if (!Owns(release.Handle, LifecycleKind.Export, out var toRelease)) return (NotFound(release.Handle), null);
                await _client.ReleaseAsync(toRelease).ConfigureAwait(false);
                if ((_subscribed & WireEvents.Released) != 0) _ = TellWhenReleased(release.Handle, toRelease);
                return (new HandleReply(WireOpcode.ReleaseAccepted, release.Handle), null);
            case WaitReleasedRequest wait:
                if (!Owns(wait.Handle, LifecycleKind.Export, out var waited)) return (NotFound(wait.Handle), null);
                var timeout = wait.TimeoutMs == WaitReleasedRequest.Forever ? Timeout.InfiniteTimeSpan : TimeSpan.FromMilliseconds(wait.TimeoutMs);
                var result = await _client.WaitReleasedAsync(waited, timeout).ConfigureAwait(false);
                if (result != WaitReleasedResult.TimedOut) Disown(wait.Handle);
                return (new HandleReply(WireOpcode.WaitResult, wait.Handle, result switch
                {
                    WaitReleasedResult.Released => HandleReply.Released,
                    WaitReleasedResult.TimedOut => HandleReply.TimedOut,
                    _ => HandleReply.NotFound,
                }), null);
            case HandleRequest { Request: WireOpcode.ReleaseImport } releaseImport:
                if (!Owns(releaseImport.Handle, LifecycleKind.Import, out var importId)) return (NotFound(releaseImport.Handle), null);
                // Known before the release, so that an end of its deferred grants found at once is not missed.
                _releasedImports[importId] = releaseImport.Handle;
                var releasedImport = await _client.ReleaseImportAsync(importId).ConfigureAwait(false);
                if (releasedImport.Deferred == 0) _releasedImports.TryRemove(importId, out _);
                Disown(releaseImport.Handle);
                return (new HandleReply(WireOpcode.ImportReleased, releaseImport.Handle, (uint)releasedImport.Deferred), null);
            case MapRequest map:
                if (Denied(WireCapabilities.Map, map.Domid) is { } notMap) return (notMap, null);
                if ((map.MapFlags & ~MapRequest.ReadOnly) != 0) return (Refused(WireErrorCode.InvalidArgument, $"unknown map flags 0x{map.MapFlags:X}"), null);
                if (Quota(map.Refs.Length) is { } overMap) return (overMap, null);
                var mapped = await StartOwned(map.Refs.Length,
                    () => _client.MapForPeerAsync(new DomainId(map.Domid), map.Refs, (map.MapFlags & MapRequest.ReadOnly) != 0), m => m.Id).ConfigureAwait(false);
                // The file stays the device's until the unmap: the reply borrows it, so an unmap racing the reply
                // (the connection ending) closes it only once the reply went.
                if (Carried.Borrow(mapped.Mapping.File) is not { } file) return (NotFound((ulong)mapped.Id.Sequence), null);
                return (new MappedReply((ulong)mapped.Id.Sequence, (uint)mapped.Mapping.PageCount, mapped.Mapping.Offset), file);
            case HandleRequest { Request: WireOpcode.Unmap } unmap:
                if (!Owns(unmap.Handle, LifecycleKind.Map, out var mapId)) return (NotFound(unmap.Handle), null);
                await _client.UnmapAsync(mapId).ConfigureAwait(false);
                Disown(unmap.Handle);
                return (new UnmappedReply(unmap.Handle), null);
            case HandleRequest { Request: WireOpcode.Query } query:
                if (!_owned.TryGetValue(query.Handle, out var owned)) return (NotFound(query.Handle), null);
                var queried = owned.Id;
                var status = await _client.StatusAsync(queried).ConfigureAwait(false);
                return (new StatusReply(query.Handle, Kind(queried.Kind), State(status.State), status.Quarantined, queried.Domain.Value, (uint)status.PageCount), null);
            case SubscribeRequest subscribe:
                if ((_granted & WireCapabilities.Events) == 0) return (Refused(WireErrorCode.NotPermitted, "the events capability was not granted"), null);
                _subscribed = subscribe.Events & Sent;
                return (new SubscribedReply(_subscribed), null);
            case DaemonStatusRequest:
                if ((_granted & WireCapabilities.DaemonStatus) == 0) return (Refused(WireErrorCode.NotPermitted, "the daemon-status capability was not granted"), null);
                return (new DaemonStatusReport((await _daemonStatus().ConfigureAwait(false)).ToJson()), null);
            case ReleaseDomainRequest releaseDomain:
                if ((_granted & WireCapabilities.ReleaseDomain) == 0) return (Refused(WireErrorCode.NotPermitted, "the release-domain capability was not granted"), null);
                var domainReleased = await _client.ReleaseDomainAsync(new DomainId(releaseDomain.Domid)).ConfigureAwait(false);
                _log.LogWarning("operator uid {Uid} pid {Pid}: domain {Domain} destroyed, its accounting released; {Lifecycles} lifecycle(s) of {Pages} page(s) still live",
                    Peer.Uid, Peer.Pid, releaseDomain.Domid, domainReleased.Lifecycles, domainReleased.Pages);
                return (new DomainReleasedReply(releaseDomain.Domid, domainReleased.WasDead, (uint)domainReleased.Lifecycles, (ulong)domainReleased.Pages), null);
            default:
                return (Refused(WireErrorCode.NotPermitted, $"{request.Opcode} needs a capability this connection was not granted"), null);
        }
    }

    private WireMessage? Denied(WireCapabilities needed, ushort domid)
    {
        if ((_granted & needed) == 0) return Refused(WireErrorCode.NotPermitted, $"the capability {needed} was not granted");
        if (!_policy.MayActFor(Peer.Uid, new DomainId(domid)))
        {
            _log.LogWarning("client uid {Uid} gid {Gid} pid {Pid} refused: may not act for domain {Domain}", Peer.Uid, Peer.Gid, Peer.Pid, domid);
            return Refused(WireErrorCode.NotPermitted, $"uid {Peer.Uid} may not act for domain {domid}");
        }
        return null;
    }

    /// <summary>The events this daemon sends: all of them.</summary>
    private const WireEvents Sent = WireEvents.Released | WireEvents.AccessEnded | WireEvents.Quarantined | WireEvents.FrontendDied;

    /// <summary>
    /// A notice of the actors: the deferred grants of an import this connection released ended (<c>ACCESS_ENDED</c>),
    /// an export of it was quarantined (<c>QUARANTINED</c>), or a frontend it has lifecycles of died
    /// (<c>FRONTEND_DIED</c>); sent if the connection subscribed.
    /// </summary>
    public void Notify(object notice)
    {
        if (_closing) return;
        switch (notice)
        {
            case BufferManager.AccessEnded ended when _releasedImports.TryRemove(ended.Import, out ulong handle):
                if ((_subscribed & WireEvents.AccessEnded) != 0) Send(WireCodec.Encode(0, new HandleEvent(WireOpcode.AccessEndedEvent, handle)), null);
                break;
            case ExportedBuffer.QuarantineNotice quarantined when (_subscribed & WireEvents.Quarantined) != 0
                && _owned.TryGetValue((ulong)quarantined.Id.Sequence, out var owned) && owned.Id == quarantined.Id:
                Send(WireCodec.Encode(0, new QuarantinedEvent((ulong)quarantined.Id.Sequence, (uint)Math.Min(quarantined.HeldFor.TotalMilliseconds, uint.MaxValue))), null);
                break;
            case DomainLifecycles.FrontendDied died when (_subscribed & WireEvents.FrontendDied) != 0 && _owned.Values.Any(o => o.Id.Domain == died.Domain):
                Send(WireCodec.Encode(0, new FrontendDiedEvent(died.Domain.Value)), null);
                break;
        }
    }

    /// <summary>Sends <c>RELEASED</c> once the kernel released an export the client let go of.</summary>
    private async Task TellWhenReleased(ulong handle, LifecycleId id)
    {
        try
        {
            if (await _client.WaitReleasedAsync(id, Timeout.InfiniteTimeSpan).ConfigureAwait(false) == WaitReleasedResult.TimedOut) return;
        }
        catch (Exception e) when (e is BufferActorsException or TimeoutException)
        {
            return; // the lifecycle ended another way (its domain died, the daemon stops): no release to tell
        }
        if (!_closing && (_subscribed & WireEvents.Released) != 0) Send(WireCodec.Encode(0, new HandleEvent(WireOpcode.ReleasedEvent, handle)), null);
    }

    /// <summary>Takes room for one more lifecycle of <paramref name="pages"/> pages, or says which limit refuses it.</summary>
    private ErrorReply? Quota(int pages)
    {
        if (_owned.Count >= _policy.MaxLifecycles) return Refused(WireErrorCode.QuotaExceeded, $"this connection owns {_policy.MaxLifecycles} lifecycles");
        if (Interlocked.Add(ref _pages, pages) > _policy.MaxPages)
        {
            Interlocked.Add(ref _pages, -pages);
            return Refused(WireErrorCode.QuotaExceeded, $"this connection's lifecycles would hold more than {_policy.MaxPages} pages");
        }
        if (_quotas.TryTake(Peer.Uid, pages) is { } refused)
        {
            Interlocked.Add(ref _pages, -pages);
            return Refused(WireErrorCode.QuotaExceeded, refused);
        }
        return null;
    }

    /// <summary>Starts a lifecycle whose room <see cref="Quota"/> took, and owns it; the room is given back if it does not start.</summary>
    private async Task<T> StartOwned<T>(int pages, Func<Task<T>> start, Func<T, LifecycleId> id)
    {
        T started;
        try
        {
            started = await start().ConfigureAwait(false);
        }
        catch
        {
            GiveBack(pages);
            throw;
        }
        Own(id(started), pages);
        return started;
    }

    private void GiveBack(int pages)
    {
        Interlocked.Add(ref _pages, -pages);
        _quotas.Give(Peer.Uid, pages);
    }

    private bool Disown(ulong handle, out LifecycleId id)
    {
        if (!_owned.TryRemove(handle, out var owned))
        {
            id = default;
            return false;
        }
        GiveBack(owned.Pages);
        id = owned.Id;
        return true;
    }

    private void Disown(ulong handle) => Disown(handle, out _);

    private void Own(LifecycleId id, int pages)
    {
        _owned[(ulong)id.Sequence] = (id, pages);
        // Created while the connection was ending: it is ended with the rest.
        if (_closing) _ = EndAsync((ulong)id.Sequence);
    }

    /// <summary>A handle of another connection is answered exactly as one that never existed.</summary>
    private bool Owns(ulong handle, LifecycleKind kind, out LifecycleId id)
    {
        bool owns = _owned.TryGetValue(handle, out var owned) && owned.Id.Kind == kind;
        id = owned.Id;
        return owns;
    }

    private static ErrorReply NotFound(ulong handle) => Refused(WireErrorCode.NotFound, $"no lifecycle {handle} of this connection");

    private static ErrorReply Refused(WireErrorCode code, string message, Errno? errno = null, GrantStatus? status = null) =>
        new(code, errno is { } e ? (int)e : 0, status is { } s ? (short)s : (short)0, message);

    /// <summary>
    /// Answers a request: its id is free again before the answer goes (the client may reuse it as soon as it reads
    /// the answer), and a stop waits until the answer went.
    /// </summary>
    private void Answer(uint requestId, WireMessage answer, SafeHandle? carried = null)
    {
        lock (_inFlight) _inFlight.Remove(requestId);
        Reply(requestId, answer, carried);
        lock (_inFlight)
        {
            if (--_unsent == 0 && _stopping) _allAnswered.TrySetResult();
        }
    }

    private void Reply(uint requestId, WireMessage message, SafeHandle? carried = null) => Send(WireCodec.Encode(requestId, message), carried);

    private void Goodbye(GoodbyeReason reason, string message) => Send(WireCodec.Encode(0, new Goodbye(reason, message)), null);

    private void Send(byte[] frame, SafeHandle? carried)
    {
        try
        {
            lock (_sendLock) _socket.Send(frame, carried is null ? [] : [carried]);
        }
        catch (UnixSocketException e) when (e.Errno == Errno.EAGAIN)
        {
            // Its socket stayed full for the send time-out: the client stopped reading. Cut it off (its reader sees
            // the end and ends what it owned); the goodbye goes only if there is room for it.
            _log.LogWarning("client uid {Uid} pid {Pid} cut off: it did not read for {Timeout}", Peer.Uid, Peer.Pid, _policy.SendTimeout);
            try
            {
                _socket.Send(WireCodec.Encode(0, new Goodbye(GoodbyeReason.TooSlow, $"no room for a reply for {_policy.SendTimeout}")), [], dontWait: true);
            }
            catch (UnixSocketException)
            {
                // Gone meanwhile.
            }
            _socket.Shutdown();
        }
        catch (UnixSocketException)
        {
            // The client is gone: its reader sees the end and ends what it owned.
        }
        catch (ObjectDisposedException)
        {
            // The connection ended before this (an event) could go.
        }
    }

    /// <summary>Ends what the connection owned, imports first (their grants), then maps, then exports, as for a dead frontend.</summary>
    private async Task EndEverythingAsync()
    {
        try
        {
            foreach (var handle in _owned.OrderBy(o => EndOrder(o.Value.Id.Kind)).Select(o => o.Key).ToList())
                await EndAsync(handle).ConfigureAwait(false);
        }
        finally
        {
            _socket.Dispose();
            _ended.TrySetResult();
        }
    }

    private async Task EndAsync(ulong handle)
    {
        if (!Disown(handle, out var id)) return;
        try
        {
            if (id.Kind == LifecycleKind.Import) await _client.ReleaseImportAsync(id).ConfigureAwait(false);
            else if (id.Kind == LifecycleKind.Map) await _client.UnmapAsync(id).ConfigureAwait(false);
            else if (id.Kind == LifecycleKind.Export) await _client.ReleaseAsync(id).ConfigureAwait(false);
        }
        catch (Exception e) when (e is BufferActorsException or TimeoutException)
        {
            // Already over (NotFound), or its release is the lifecycle's to finish: the journal has the rest.
            _log.LogInformation("ending {Id} of a closed connection: {Message}", id, e.Message);
        }
    }

    private void TryClose(int fd)
    {
        try
        {
            _device.CloseFd(fd);
        }
        catch (GntdevException)
        {
            // Already closed by the device's own clean-up.
        }
    }

    private static WireErrorCode Code(ErrorCode code) => code switch
    {
        ErrorCode.InvalidArgument => WireErrorCode.InvalidArgument,
        ErrorCode.NotFound => WireErrorCode.NotFound,
        ErrorCode.InvalidState => WireErrorCode.InvalidState,
        ErrorCode.QuotaExceeded => WireErrorCode.QuotaExceeded,
        ErrorCode.DomainDead => WireErrorCode.DomainDead,
        ErrorCode.Device => WireErrorCode.Device,
        ErrorCode.Journal => WireErrorCode.Journal,
        _ => WireErrorCode.Stopped,
    };

    private static int EndOrder(LifecycleKind kind) => kind == LifecycleKind.Import ? 0 : kind == LifecycleKind.Map ? 1 : 2;

    private static WireKind Kind(LifecycleKind kind) =>
        kind == LifecycleKind.Map ? WireKind.Map : kind == LifecycleKind.Import ? WireKind.Import : WireKind.Export;

    private static WireState State(string name) =>
        Enum.TryParse<WireState>(name, out var state) ? state : WireState.Requested;
}
