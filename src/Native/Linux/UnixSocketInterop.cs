using System.Runtime.InteropServices;
using System.Text;
using Tmds.Linux;
using static Tmds.Linux.LibC;

namespace BufferActors.Native.Linux;

/// <summary>
/// The raw-pointer boundary of the remote simulator: AF_UNIX stream sockets (create, bind, listen,
/// accept, connect), frames sent and received with file descriptors attached as SCM_RIGHTS, and the
/// peer's credentials. Every failing call becomes a <see cref="UnixSocketException"/> (through
/// <see cref="LinuxErrno"/>); EINTR is retried.
/// </summary>
/// <remarks>
/// Descriptors are plain <see cref="int"/>s owned by the caller, which closes them with
/// <see cref="Close"/> only after every thread using them has stopped: closing a descriptor another
/// thread is blocked on would let the number be reused under it. Blocked reads are woken with
/// <see cref="Shutdown"/> instead.
/// </remarks>
internal static unsafe class UnixSocketInterop
{
    /// <summary>Most descriptors one receive accepts; more makes the kernel truncate the control data (MSG_CTRUNC).</summary>
    public const int MaxFdsPerMessage = 8;

    /// <summary>Creates a listening stream socket bound to <paramref name="path"/> (a stale socket file with no listener is replaced).</summary>
    public static int Listen(string path, int backlog) => Listen(path, backlog, SOCK_STREAM);

    /// <summary>Creates a listening socket of <paramref name="type"/> (e.g. <c>SOCK_SEQPACKET</c>) bound to <paramref name="path"/>.</summary>
    public static int Listen(string path, int backlog, int type)
    {
        var address = Address(path, "bind");
        if (File.Exists(path)) RemoveStaleSocket(path, type);
        int fd = NewSocket("socket", type);
        try
        {
            Check(bind(fd, (sockaddr*)&address.Sun, address.Length), "bind", $"cannot bind {path}");
            Check(listen(fd, backlog), "listen", $"cannot listen on {path}");
            return fd;
        }
        catch
        {
            close(fd);
            throw;
        }
    }

    /// <summary>
    /// Waits up to <paramref name="timeoutMs"/> for a connection and accepts it. Returns -1 when none
    /// arrived in time, so the accept loop can look at its stop flag between waits.
    /// </summary>
    public static int Accept(int listenFd, int timeoutMs)
    {
        if (!WaitReadable(listenFd, timeoutMs, "poll")) return -1;
        while (true)
        {
            int fd = accept4(listenFd, null, null, SOCK_CLOEXEC);
            if (fd >= 0) return fd;
            int err = (int)LinuxErrno.Last();
            if (err == EINTR) continue;
            // The peer gave up between poll and accept, or another acceptor won: nothing to accept now.
            if (err == ECONNABORTED || err == EAGAIN) return -1;
            throw Error("accept4", err, "cannot accept a simulator connection");
        }
    }

    /// <summary>Connects to the socket at <paramref name="path"/>. ENOENT / ECONNREFUSED mean nobody listens there.</summary>
    public static int Connect(string path) => Connect(path, SOCK_STREAM);

    /// <summary>Connects a socket of <paramref name="type"/> to <paramref name="path"/>.</summary>
    public static int Connect(string path, int type)
    {
        var address = Address(path, "connect");
        int fd = NewSocket("socket", type);
        while (true)
        {
            if (connect(fd, (sockaddr*)&address.Sun, address.Length) == 0) return fd;
            int err = (int)LinuxErrno.Last();
            if (err == EINTR) continue;
            close(fd);
            throw Error("connect", err, $"cannot connect to {path}");
        }
    }

    /// <summary>Makes a blocking send give up with EAGAIN after <paramref name="timeout"/> (SO_SNDTIMEO).</summary>
    public static void SetSendTimeout(int fd, TimeSpan timeout)
    {
        var tv = new timeval { tv_sec = (long)timeout.TotalSeconds, tv_usec = timeout.Milliseconds * 1000L };
        if (setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, (socklen_t)sizeof(timeval)) != 0)
            throw Error("setsockopt", (int)LinuxErrno.Last(), "cannot set SO_SNDTIMEO");
    }

    /// <summary>The process at the other end of a connected socket (SO_PEERCRED); pid, uid and gid -1 if unknown.</summary>
    public static PeerCredentials Peer(int fd)
    {
        ucred cred = default;
        socklen_t length = (socklen_t)sizeof(ucred);
        return getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &length) == 0
            ? new PeerCredentials((int)cred.pid, unchecked((int)(uint)cred.uid), unchecked((int)(uint)cred.gid))
            : new PeerCredentials(-1, -1, -1);
    }

    /// <summary>
    /// Sends all of <paramref name="data"/>, with <paramref name="fds"/> attached to its first byte.
    /// The caller serialises senders so frames never interleave on the stream.
    /// </summary>
    public static void Send(int fd, ReadOnlySpan<byte> data, ReadOnlySpan<int> fds)
    {
        if (fds.Length > MaxFdsPerMessage) throw new ArgumentOutOfRangeException(nameof(fds), $"at most {MaxFdsPerMessage} descriptors per frame");
        int controlLength = fds.IsEmpty ? 0 : CMSG_SPACE(sizeof(int) * fds.Length);
        byte* control = stackalloc byte[Math.Max(controlLength, 1)];
        int sent = 0;
        fixed (byte* bytes = data)
        {
            while (sent < data.Length)
            {
                iovec iov = default;
                iov.iov_base = bytes + sent;
                iov.iov_len = (size_t)(ulong)(data.Length - sent);
                msghdr msg = default;
                msg.msg_iov = &iov;
                msg.msg_iovlen = 1;
                // The descriptors travel with the first chunk only: once any byte went, they went with it.
                if (sent == 0 && controlLength > 0)
                {
                    new Span<byte>(control, controlLength).Clear();
                    msg.msg_control = control;
                    msg.msg_controllen = (socklen_t)controlLength;
                    cmsghdr* header = CMSG_FIRSTHDR(&msg);
                    header->cmsg_level = SOL_SOCKET;
                    header->cmsg_type = SCM_RIGHTS;
                    header->cmsg_len = (socklen_t)CmsgLen(sizeof(int) * fds.Length);
                    int* slots = (int*)CMSG_DATA(header);
                    for (int i = 0; i < fds.Length; i++) slots[i] = fds[i];
                }
                long n = sendmsg(fd, &msg, MSG_NOSIGNAL);
                if (n < 0)
                {
                    int err = (int)LinuxErrno.Last();
                    if (err == EINTR) continue;
                    throw Error("sendmsg", err, "cannot send a simulator frame");
                }
                sent += (int)n;
            }
        }
    }

    /// <summary>
    /// Fills <paramref name="buffer"/> completely, adding every descriptor that arrives to
    /// <paramref name="fds"/>. Returns false on end of stream before the first byte; end of stream
    /// in the middle is EPIPE (the peer broke the frame off).
    /// </summary>
    /// <remarks>
    /// Reads never ask for more than the rest of the current frame, so descriptors received while
    /// reading a frame are the ones sent with that frame: the kernel delivers SCM_RIGHTS with the first
    /// byte of the send that carried them.
    /// </remarks>
    public static bool ReceiveExactly(int fd, Span<byte> buffer, List<int> fds)
    {
        int received = 0;
        int controlLength = CMSG_SPACE(sizeof(int) * MaxFdsPerMessage);
        byte* control = stackalloc byte[controlLength];
        fixed (byte* bytes = buffer)
        {
            while (received < buffer.Length)
            {
                iovec iov = default;
                iov.iov_base = bytes + received;
                iov.iov_len = (size_t)(ulong)(buffer.Length - received);
                msghdr msg = default;
                msg.msg_iov = &iov;
                msg.msg_iovlen = 1;
                msg.msg_control = control;
                msg.msg_controllen = (socklen_t)controlLength;
                long n = recvmsg(fd, &msg, MSG_CMSG_CLOEXEC);
                if (n < 0)
                {
                    int err = (int)LinuxErrno.Last();
                    if (err == EINTR) continue;
                    throw Error("recvmsg", err, "cannot receive a simulator frame");
                }
                CollectFds(&msg, fds);
                if ((msg.msg_flags & MSG_CTRUNC) != 0)
                    throw new UnixSocketException("recvmsg", Errno.EINVAL, $"more than {MaxFdsPerMessage} descriptors arrived with one frame; the excess was dropped by the kernel");
                if (n == 0)
                {
                    if (received == 0) return false;
                    throw new UnixSocketException("recvmsg", (Errno)EPIPE, $"the peer closed the connection {received} bytes into a {buffer.Length}-byte read");
                }
                received += (int)n;
            }
        }
        return true;
    }

    /// <summary>A connected pair of sockets of <paramref name="type"/> (close-on-exec), as socketpair(2) makes.</summary>
    public static (int A, int B) Pair(int type)
    {
        int* fds = stackalloc int[2];
        Check(socketpair(AF_UNIX, type | SOCK_CLOEXEC, 0, fds), "socketpair", "cannot create a socket pair");
        return (fds[0], fds[1]);
    }

    /// <summary>
    /// Sends <paramref name="packet"/> as one datagram of a <c>SOCK_SEQPACKET</c> socket with <paramref name="fds"/>
    /// attached. False when the socket's buffer is full and <paramref name="dontWait"/> was asked (nothing was sent).
    /// </summary>
    public static bool SendPacket(int fd, ReadOnlySpan<byte> packet, ReadOnlySpan<int> fds, bool dontWait)
    {
        if (fds.Length > MaxFdsPerMessage) throw new ArgumentOutOfRangeException(nameof(fds), $"at most {MaxFdsPerMessage} descriptors per packet");
        int controlLength = fds.IsEmpty ? 0 : CMSG_SPACE(sizeof(int) * fds.Length);
        byte* control = stackalloc byte[Math.Max(controlLength, 1)];
        fixed (byte* bytes = packet)
        {
            iovec iov = default;
            iov.iov_base = bytes;
            iov.iov_len = (size_t)(ulong)packet.Length;
            msghdr msg = default;
            msg.msg_iov = &iov;
            msg.msg_iovlen = 1;
            if (controlLength > 0)
            {
                new Span<byte>(control, controlLength).Clear();
                msg.msg_control = control;
                msg.msg_controllen = (socklen_t)controlLength;
                cmsghdr* header = CMSG_FIRSTHDR(&msg);
                header->cmsg_level = SOL_SOCKET;
                header->cmsg_type = SCM_RIGHTS;
                header->cmsg_len = (socklen_t)CmsgLen(sizeof(int) * fds.Length);
                int* slots = (int*)CMSG_DATA(header);
                for (int i = 0; i < fds.Length; i++) slots[i] = fds[i];
            }
            while (true)
            {
                long n = sendmsg(fd, &msg, MSG_NOSIGNAL | (dontWait ? MSG_DONTWAIT : 0));
                if (n >= 0) return true; // a datagram goes whole or not at all
                int err = (int)LinuxErrno.Last();
                if (err == EINTR) continue;
                if (dontWait && (err == EAGAIN || err == EWOULDBLOCK)) return false;
                throw Error("sendmsg", err, $"cannot send a {packet.Length}-byte packet");
            }
        }
    }

    /// <summary>
    /// Receives one datagram of a <c>SOCK_SEQPACKET</c> socket into <paramref name="buffer"/>, adding the descriptors
    /// that came with it to <paramref name="fds"/> (close-on-exec). Returns its length, or -1 at end of stream. A
    /// datagram larger than the buffer, or with more descriptors than <see cref="MaxFdsPerMessage"/>, is refused
    /// (EMSGSIZE) after every descriptor that did arrive with it was closed.
    /// </summary>
    public static int ReceivePacket(int fd, Span<byte> buffer, List<int> fds)
    {
        int controlLength = CMSG_SPACE(sizeof(int) * MaxFdsPerMessage);
        byte* control = stackalloc byte[controlLength];
        fixed (byte* bytes = buffer)
        {
            while (true)
            {
                iovec iov = default;
                iov.iov_base = bytes;
                iov.iov_len = (size_t)(ulong)buffer.Length;
                msghdr msg = default;
                msg.msg_iov = &iov;
                msg.msg_iovlen = 1;
                msg.msg_control = control;
                msg.msg_controllen = (socklen_t)controlLength;
                long n = recvmsg(fd, &msg, MSG_CMSG_CLOEXEC);
                if (n < 0)
                {
                    int err = (int)LinuxErrno.Last();
                    if (err == EINTR) continue;
                    throw Error("recvmsg", err, "cannot receive a packet");
                }
                int first = fds.Count;
                CollectFds(&msg, fds);
                if ((msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) != 0)
                {
                    // The descriptors that fit are installed in this process already: none may leak.
                    for (int i = first; i < fds.Count; i++) close(fds[i]);
                    fds.RemoveRange(first, fds.Count - first);
                    throw new UnixSocketException("recvmsg", (Errno)EMSGSIZE, (msg.msg_flags & MSG_TRUNC) != 0
                        ? $"a packet larger than {buffer.Length} bytes was cut off"
                        : $"more than {MaxFdsPerMessage} descriptors came with one packet");
                }
                if (n > 0) return (int)n;
                // End of stream (the protocols on these sockets never send an empty packet).
                for (int i = first; i < fds.Count; i++) close(fds[i]);
                fds.RemoveRange(first, fds.Count - first);
                return -1;
            }
        }
    }

    /// <summary>Sets the permission bits of the socket file at <paramref name="path"/> (e.g. 0660).</summary>
    public static void ChangeMode(string path, int mode)
    {
        var bytes = Encoding.UTF8.GetBytes(path + "\0");
        fixed (byte* p = bytes) Check(chmod(p, (mode_t)mode), "chmod", $"cannot set the mode of {path}");
    }

    /// <summary>chown(2) of the group only (the owner stays): who may connect to a socket of mode 0660.</summary>
    public static void ChangeGroup(string path, int gid)
    {
        var bytes = Encoding.UTF8.GetBytes(path + "\0");
        fixed (byte* p = bytes) Check(chown(p, unchecked((uid_t)uint.MaxValue), (gid_t)unchecked((uint)gid)), "chown", $"cannot give {path} to group {gid}");
    }

    /// <summary>
    /// shutdown(2). Both directions wake a thread blocked receiving on <paramref name="fd"/> with end of
    /// stream; <paramref name="writeOnly"/> only tells the peer we are done sending. Errors are ignored
    /// (already shut down, or reset by the peer).
    /// </summary>
    public static void Shutdown(int fd, bool writeOnly = false) => shutdown(fd, writeOnly ? SHUT_WR : SHUT_RDWR);

    /// <summary>close(2); errors are ignored (the descriptor is gone either way on Linux).</summary>
    public static void Close(int fd)
    {
        if (fd >= 0) close(fd);
    }

    /// <summary>
    /// CMSG_LEN as glibc defines it: aligned header + unpadded data. Tmds.LibC 0.5.0's CMSG_LEN pads the
    /// data too (CMSG_LEN(4) = 24, not 20), which would make the kernel read one descriptor more than
    /// we put there.
    /// </summary>
    private static int CmsgLen(int dataLength) => CMSG_ALIGN(sizeof(cmsghdr)) + dataLength;

    private static void CollectFds(msghdr* msg, List<int> fds)
    {
        for (cmsghdr* header = CMSG_FIRSTHDR(msg); header != null; header = CMSG_NXTHDR(msg, header))
        {
            if (header->cmsg_level != SOL_SOCKET || header->cmsg_type != SCM_RIGHTS) continue;
            int count = ((int)header->cmsg_len - CmsgLen(0)) / sizeof(int);
            int* slots = (int*)CMSG_DATA(header);
            for (int i = 0; i < count; i++) fds.Add(slots[i]);
        }
    }

    /// <summary>True once the descriptor is readable (data, a descriptor, or the end); false after the time-out.</summary>
    internal static bool WaitReadable(int fd, int timeoutMs, string op)
    {
        while (true)
        {
            pollfd p = default;
            p.fd = fd;
            p.events = POLLIN;
            int n = Poll.poll(&p, 1, timeoutMs);
            if (n > 0) return true;
            if (n == 0) return false;
            int err = (int)LinuxErrno.Last();
            // poll on one valid descriptor fails mostly when a signal interrupts it (the runtime suspends threads for
            // the GC with one): wait again.
            if (err == EINTR) continue;
            throw Error(op, err, "cannot wait on the socket");
        }
    }

    private static int NewSocket(string op, int type)
    {
        int fd = socket(AF_UNIX, type | SOCK_CLOEXEC, 0);
        return fd >= 0 ? fd : throw Error(op, (int)LinuxErrno.Last(), "cannot create an AF_UNIX socket");
    }

    /// <summary>
    /// A socket file left by a server that died cannot be bound again; one that still has a listener
    /// must not be taken over. Connecting tells the two apart.
    /// </summary>
    private static void RemoveStaleSocket(string path, int type)
    {
        if (!IsSocketFile(path))
            throw new UnixSocketException("bind", (Errno)EADDRINUSE, $"{path} exists and is not a socket; refusing to replace it");
        int fd;
        try
        {
            fd = Connect(path, type);
        }
        catch (UnixSocketException e) when ((int)e.Errno == ECONNREFUSED)
        {
            File.Delete(path);
            return;
        }
        catch (UnixSocketException e)
        {
            throw new UnixSocketException("bind", e.Errno, $"{path} exists and is not a stale simulator socket: {e.Detail}");
        }
        close(fd);
        throw new UnixSocketException("bind", (Errno)EADDRINUSE, $"a simulator is already serving {path}");
    }

    private static bool IsSocketFile(string path)
    {
        var bytes = Encoding.UTF8.GetBytes(path + "\0");
        stat st = default;
        fixed (byte* p = bytes)
        {
            // lstat: a symlink to a socket is not ours to delete either.
            return lstat(p, &st) == 0 && (st.st_mode & S_IFMT) == S_IFSOCK;
        }
    }

    private static (sockaddr_un Sun, socklen_t Length) Address(string path, string op)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var bytes = Encoding.UTF8.GetBytes(path);
        sockaddr_un address = default;
        // sun_path must hold the path and its terminating NUL.
        if (bytes.Length >= sockaddr_un.sun_path_length || Array.IndexOf(bytes, (byte)0) >= 0)
            throw new UnixSocketException(op, (Errno)ENAMETOOLONG, $"socket path '{path}' must be at most {sockaddr_un.sun_path_length - 1} bytes without NUL (it is {bytes.Length})");
        address.sun_family = AF_UNIX;
        byte* sunPath = address.sun_path;
        for (int i = 0; i < bytes.Length; i++) sunPath[i] = bytes[i];
        sunPath[bytes.Length] = 0;
        return (address, (socklen_t)(sockaddr_un.sun_path_offset + bytes.Length + 1));
    }

    private static void Check(int result, string op, string detail)
    {
        if (result < 0) throw Error(op, (int)LinuxErrno.Last(), detail);
    }

    private static UnixSocketException Error(string op, int err, string detail) => LinuxErrno.SocketFail(op, (Errno)err, detail);

    /// <summary><c>struct timeval</c> of LP64 Linux (Tmds.LibC has none).</summary>
    [StructLayout(LayoutKind.Sequential)]
#pragma warning disable CS8981 // the C name
    private struct timeval
#pragma warning restore CS8981
    {
        public long tv_sec;
        public long tv_usec;
    }
}
