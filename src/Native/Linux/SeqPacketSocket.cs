using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;
using static Tmds.Linux.LibC;

namespace BufferActors.Native.Linux;

/// <summary>
/// An <c>AF_UNIX</c> <c>SOCK_SEQPACKET</c> socket: one datagram per message, with the descriptors that belong to it
/// (SCM_RIGHTS), the kernel keeping message boundaries — the transport of <c>bufferactors serve</c>
/// (docs/protocol.md). Descriptors handed in and out are <see cref="SafeFileHandle"/>s that own them.
/// </summary>
public sealed class SeqPacketSocket : IDisposable
{
    /// <summary>The most descriptors one datagram may carry; more is refused on receipt.</summary>
    public const int MaxFdsPerPacket = UnixSocketInterop.MaxFdsPerMessage;

    private readonly FdSafeHandle _handle;

    private SeqPacketSocket(int fd, bool connected)
    {
        _handle = new FdSafeHandle(fd);
        if (connected) Peer = UnixSocketInterop.Peer(fd);
    }

    /// <summary>The process that connected (SO_PEERCRED at connect time); all -1 for a listening socket.</summary>
    public PeerCredentials Peer { get; } = new(-1, -1, -1);

    /// <summary>
    /// A socket listening at <paramref name="path"/>, its file given <paramref name="group"/> (if any) and
    /// <paramref name="mode"/> (e.g. <c>0660</c>) before it is announced. A stale socket file nobody listens on is replaced; anything else at the path is not.
    /// </summary>
    /// <exception cref="UnixSocketException">The path is taken, too long, or the socket cannot be bound.</exception>
    public static SeqPacketSocket Listen(string path, int backlog, int mode, int? group = null)
    {
        int fd = UnixSocketInterop.Listen(path, backlog, SOCK_SEQPACKET);
        try
        {
            if (group is { } gid) UnixSocketInterop.ChangeGroup(path, gid); // before the mode opens it to the group
            UnixSocketInterop.ChangeMode(path, mode);
        }
        catch (UnixSocketException)
        {
            UnixSocketInterop.Close(fd);
            throw;
        }
        return new SeqPacketSocket(fd, connected: false);
    }

    /// <summary>Connects to the socket at <paramref name="path"/>.</summary>
    /// <exception cref="UnixSocketException">Nobody listens there (ENOENT, ECONNREFUSED), or no permission (EACCES).</exception>
    public static SeqPacketSocket Connect(string path) => new(UnixSocketInterop.Connect(path, SOCK_SEQPACKET), connected: true);

    /// <summary>A connected pair (socketpair(2)), for tests and in-process peers.</summary>
    public static (SeqPacketSocket A, SeqPacketSocket B) Pair()
    {
        var (a, b) = UnixSocketInterop.Pair(SOCK_SEQPACKET);
        return (new SeqPacketSocket(a, connected: true), new SeqPacketSocket(b, connected: true));
    }

    /// <summary>A blocking <see cref="Send"/> that cannot queue its datagram within <paramref name="timeout"/> fails with EAGAIN.</summary>
    public void SetSendTimeout(TimeSpan timeout)
    {
        using var lease = _handle.Borrow();
        UnixSocketInterop.SetSendTimeout(lease.Fd, timeout);
    }

    /// <summary>True once a datagram (or the end of the stream) can be received, false when none came within <paramref name="wait"/>.</summary>
    public bool WaitReadable(TimeSpan wait)
    {
        using var lease = _handle.Borrow();
        return UnixSocketInterop.WaitReadable(lease.Fd, (int)Math.Clamp(wait.TotalMilliseconds, 0, int.MaxValue), "poll");
    }

    /// <summary>The next connection, or null when none arrived within <paramref name="wait"/> (so a loop can check its stop flag).</summary>
    public SeqPacketSocket? Accept(TimeSpan wait)
    {
        using var lease = _handle.Borrow();
        int fd = UnixSocketInterop.Accept(lease.Fd, (int)Math.Clamp(wait.TotalMilliseconds, 0, int.MaxValue));
        return fd < 0 ? null : new SeqPacketSocket(fd, connected: true);
    }

    /// <summary>
    /// Sends <paramref name="packet"/> as one datagram with <paramref name="fds"/> attached (the receiver gets its own
    /// references; the caller still owns these). False when <paramref name="dontWait"/> and the peer's queue is full.
    /// </summary>
    /// <exception cref="UnixSocketException">The peer is gone (EPIPE, ECONNRESET) or the packet is too large (EMSGSIZE).</exception>
    public bool Send(ReadOnlySpan<byte> packet, IReadOnlyList<SafeHandle> fds, bool dontWait = false)
    {
        ArgumentNullException.ThrowIfNull(fds);
        if (fds.Count > MaxFdsPerPacket) throw new ArgumentOutOfRangeException(nameof(fds), $"at most {MaxFdsPerPacket} descriptors per packet");
        Span<int> numbers = stackalloc int[fds.Count];
        var added = new bool[fds.Count];
        try
        {
            // Each descriptor is held while the datagram that carries it is sent: closed meanwhile, its number could
            // name another file by the time the kernel reads it.
            for (int i = 0; i < fds.Count; i++)
            {
                fds[i].DangerousAddRef(ref added[i]);
                numbers[i] = (int)fds[i].DangerousGetHandle();
            }
            using var lease = _handle.Borrow();
            return UnixSocketInterop.SendPacket(lease.Fd, packet, numbers, dontWait);
        }
        finally
        {
            for (int i = 0; i < fds.Count; i++)
                if (added[i]) fds[i].DangerousRelease();
        }
    }

    /// <summary>
    /// Waits for the next datagram, copies it into <paramref name="buffer"/> and adds its descriptors to
    /// <paramref name="fds"/> (owned by the caller from then on). Returns its length, or -1 at end of stream.
    /// </summary>
    /// <exception cref="UnixSocketException">
    /// EMSGSIZE: the datagram did not fit <paramref name="buffer"/> or carried more than <see cref="MaxFdsPerPacket"/>
    /// descriptors (none of them is left open); anything else: the connection failed.
    /// </exception>
    public int Receive(Span<byte> buffer, List<SafeFileHandle> fds)
    {
        ArgumentNullException.ThrowIfNull(fds);
        var raw = new List<int>(1);
        int length;
        using (var lease = _handle.Borrow()) length = UnixSocketInterop.ReceivePacket(lease.Fd, buffer, raw);
        foreach (int fd in raw) fds.Add(new SafeFileHandle(fd, ownsHandle: true));
        return length;
    }

    /// <summary>Wakes a thread blocked in <see cref="Receive"/> (it sees end of stream) and tells the peer no more comes.</summary>
    public void Shutdown()
    {
        using var lease = _handle.Borrow();
        UnixSocketInterop.Shutdown(lease.Fd);
    }

    /// <summary>Closes the socket once no call is using it.</summary>
    public void Dispose() => _handle.Dispose();
}
