using BufferActors.Host.Daemon.Protocol;
using BufferActors.Native;
using BufferActors.Native.Linux;
using Microsoft.Win32.SafeHandles;

namespace BufferActors.Host.Daemon;

/// <summary>
/// A .NET client of <c>bufferactors serve</c> over its socket (docs/protocol.md): what <c>bufferactors status</c> uses,
/// and what a .NET process that does not embed BufferActors uses to share one daemon with C backends. Calls block until
/// the daemon answers; one thread at a time. Events that arrive while a call waits are kept for <see cref="NextEvent"/>.
/// </summary>
public sealed class DaemonClient : IDisposable
{
    private readonly SeqPacketSocket _socket;
    private readonly byte[] _buffer = new byte[FrameHeader.Size + FrameHeader.MaxPayload];
    private readonly Queue<WireMessage> _events = new();
    private uint _lastId;

    private DaemonClient(SeqPacketSocket socket, WireCapabilities capabilities)
    {
        _socket = socket;
        try
        {
            Session = (HelloOk)Call(new Hello(WireCodec.Version, WireCodec.Version, capabilities), WireOpcode.HelloOk).Reply;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>Connects to the daemon at <paramref name="path"/> and negotiates <paramref name="capabilities"/>.</summary>
    /// <exception cref="UnixSocketException">Nothing listens there, or the peer may not connect.</exception>
    /// <exception cref="DaemonRefusedException">No common protocol version.</exception>
    /// <exception cref="DaemonClosedException">The daemon refused the peer.</exception>
    public static DaemonClient Connect(string path, WireCapabilities capabilities) => new(SeqPacketSocket.Connect(path), capabilities);

    /// <summary>What the daemon granted at the handshake.</summary>
    public HelloOk Session { get; }

    /// <summary>Exports frontend <paramref name="domid"/>'s <paramref name="refs"/>; the descriptor is the caller's to close.</summary>
    public (ulong Handle, uint PageCount, SafeFileHandle DmaBuf) Export(ushort domid, IReadOnlyList<uint> refs, uint flags = 0)
    {
        var (reply, fd) = Call(new ExportRequest(domid, flags, [.. refs]), WireOpcode.Exported);
        var exported = (ExportedReply)reply;
        return (exported.Handle, exported.PageCount, fd!);
    }

    /// <summary>The daemon gives up its reference to export <paramref name="handle"/>.</summary>
    public void Release(ulong handle) => Call(new HandleRequest(WireOpcode.Release, handle), WireOpcode.ReleaseAccepted);

    /// <summary>True once export <paramref name="handle"/> is released, false when <paramref name="timeoutMs"/> passed first.</summary>
    public bool WaitReleased(ulong handle, uint timeoutMs) =>
        ((HandleReply)Call(new WaitReleasedRequest(handle, timeoutMs), WireOpcode.WaitResult).Reply).Value != HandleReply.TimedOut;

    /// <summary>Grants <paramref name="pageCount"/> pages of <paramref name="dmaBuf"/> to frontend <paramref name="domid"/>.</summary>
    public (ulong Handle, uint[] Refs) Import(ushort domid, SafeFileHandle dmaBuf, uint pageCount)
    {
        var imported = (ImportedReply)Call(new ImportRequest(domid, pageCount), WireOpcode.Imported, dmaBuf).Reply;
        return (imported.Handle, imported.Refs);
    }

    /// <summary>Ends import <paramref name="handle"/>'s grants; returns the refs the frontend still maps (ended later).</summary>
    public uint ReleaseImport(ulong handle) => ((HandleReply)Call(new HandleRequest(WireOpcode.ReleaseImport, handle), WireOpcode.ImportReleased).Reply).Value;

    /// <summary>
    /// Maps frontend <paramref name="domid"/>'s <paramref name="refs"/> for CPU access: mmap <c>PageCount × 4096</c>
    /// bytes of the returned file (the caller's to close) at <c>Offset</c>, until <see cref="Unmap"/>.
    /// </summary>
    public (ulong Handle, uint PageCount, ulong Offset, SafeFileHandle File) Map(ushort domid, IReadOnlyList<uint> refs, bool readOnly)
    {
        var (reply, fd) = Call(new MapRequest(domid, readOnly ? MapRequest.ReadOnly : (ushort)0, [.. refs]), WireOpcode.Mapped);
        var mapped = (MappedReply)reply;
        return (mapped.Handle, mapped.PageCount, mapped.MmapOffset, fd!);
    }

    /// <summary>Ends map <paramref name="handle"/>.</summary>
    public void Unmap(ulong handle) => Call(new HandleRequest(WireOpcode.Unmap, handle), WireOpcode.Unmapped);

    /// <summary>One lifecycle of this connection.</summary>
    public StatusReply Query(ulong handle) => (StatusReply)Call(new HandleRequest(WireOpcode.Query, handle), WireOpcode.Status).Reply;

    /// <summary>The daemon's counts (needs <see cref="WireCapabilities.DaemonStatus"/>).</summary>
    public DaemonStatus DaemonStatus() => Daemon.DaemonStatus.FromJson(((DaemonStatusReport)Call(new DaemonStatusRequest(), WireOpcode.DaemonStatusReport).Reply).Json);

    /// <summary>
    /// Says frontend <paramref name="domid"/> was destroyed: its lifecycles end and its accounting is released (needs
    /// <see cref="WireCapabilities.ReleaseDomain"/>); the answer counts what a device still holds, tracked until it ends.
    /// </summary>
    public DomainReleasedReply ReleaseDomain(ushort domid) => (DomainReleasedReply)Call(new ReleaseDomainRequest(domid), WireOpcode.DomainReleased).Reply;

    /// <summary>The next event, if one arrived (never blocks).</summary>
    public WireMessage? NextEvent() => _events.Count > 0 ? _events.Dequeue() : null;

    /// <inheritdoc />
    public void Dispose() => _socket.Dispose();

    private (WireMessage Reply, SafeFileHandle? Fd) Call(WireMessage request, WireOpcode expected, SafeFileHandle? fd = null)
    {
        uint id = ++_lastId == 0 ? ++_lastId : _lastId;
        var fds = new List<SafeFileHandle>(1);
        try
        {
            _socket.Send(WireCodec.Encode(id, request), fd is null ? [] : [fd]);
        }
        catch (UnixSocketException e) when (e.Errno is Errno.EPIPE or Errno.ECONNRESET && _socket.WaitReadable(TimeSpan.Zero))
        {
            // The daemon closed first: its GOODBYE, if it sent one, is still queued and says why.
        }
        while (true)
        {
            int length = _socket.Receive(_buffer, fds);
            if (length < 0) throw new DaemonClosedException(new Goodbye(GoodbyeReason.Stopping, "the daemon closed the connection"));
            var (header, message) = WireCodec.Decode(_buffer.AsSpan(0, length), fds.Count);
            var carried = fds.SingleOrDefault();
            fds.Clear();
            switch (message)
            {
                case Goodbye goodbye:
                    throw new DaemonClosedException(goodbye);
                case ErrorReply error when header.RequestId == id:
                    throw new DaemonRefusedException(error);
                case var _ when header.RequestId == 0:
                    _events.Enqueue(message);
                    continue;
                case var _ when header.RequestId == id && header.Opcode == expected:
                    return (message, carried);
                default:
                    carried?.Dispose();
                    throw new ProtocolViolationException($"{header.Opcode} for request {header.RequestId} while {expected} for {id} was awaited");
            }
        }
    }
}

/// <summary>The daemon refused a request (<c>ERROR</c>); nothing changed.</summary>
public sealed class DaemonRefusedException(ErrorReply error) : Exception($"{error.Code}: {error.Message}")
{
    /// <summary>The daemon's answer.</summary>
    public ErrorReply Error { get; } = error;
}

/// <summary>The daemon closed the connection (<c>GOODBYE</c>, or the socket ended).</summary>
public sealed class DaemonClosedException(Goodbye goodbye) : Exception($"{goodbye.Reason}: {goodbye.Message}")
{
    /// <summary>The daemon's last word.</summary>
    public Goodbye Goodbye { get; } = goodbye;
}
