using System.Buffers.Binary;
using System.Runtime.InteropServices;
using Tmds.Linux;

namespace BufferActors.Native.Linux;

/// <summary>
/// inotify(7) (sys/inotify.h, not in Tmds.LibC): watches on files, read as events. The simulator uses it to see the
/// last reference to a descriptor it handed out go: a memfd's inode is freed then, and its watch reports
/// <see cref="IN_IGNORED"/> (memfds are pseudo files, which report no close events of their own).
/// </summary>
public sealed partial class Inotify : IDisposable
{
    /// <summary>The watch was removed: its file is gone (the last reference to it was dropped).</summary>
    public const uint IN_IGNORED = 0x8000;

    /// <summary>The watched file was deleted.</summary>
    public const uint IN_DELETE_SELF = 0x400;

    private const int IN_CLOEXEC = 0x80000;
    private const int IN_NONBLOCK = 0x800;

    private readonly FdSafeHandle _handle;

    /// <summary>Creates the watcher (close-on-exec, non-blocking reads).</summary>
    /// <exception cref="NativeCallException">inotify_init1 failed (e.g. EMFILE: too many instances for this user).</exception>
    public Inotify()
    {
        int fd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
        if (fd < 0) throw LinuxErrno.CallFail("inotify_init1", (Errno)Marshal.GetLastPInvokeError(), "cannot create an inotify instance");
        _handle = new FdSafeHandle(fd);
    }

    /// <summary>Watches <paramref name="path"/> for <paramref name="mask"/>; returns the watch descriptor its events carry.</summary>
    /// <exception cref="NativeCallException">The path cannot be watched (ENOENT, ENOSPC: too many watches).</exception>
    public int Watch(string path, uint mask)
    {
        using var lease = _handle.Borrow();
        int wd = inotify_add_watch(lease.Fd, path, mask);
        return wd >= 0 ? wd : throw LinuxErrno.CallFail("inotify_add_watch", (Errno)Marshal.GetLastPInvokeError(), $"cannot watch {path}");
    }

    /// <summary>Waits up to <paramref name="timeout"/> for events; true when some can be read.</summary>
    public unsafe bool Wait(TimeSpan timeout)
    {
        using var lease = _handle.Borrow();
        pollfd p = default;
        p.fd = lease.Fd;
        p.events = LibC.POLLIN;
        int n = Poll.poll(&p, 1, (int)Math.Clamp(timeout.TotalMilliseconds, 0, int.MaxValue));
        return n > 0;
    }

    /// <summary>Every event queued now (watch descriptor, mask); empty when none.</summary>
    public List<(int Wd, uint Mask)> Read()
    {
        var events = new List<(int, uint)>();
        var buffer = new byte[4096];
        using var lease = _handle.Borrow();
        while (true)
        {
            long n = ReadSome(lease.Fd, buffer);
            if (n <= 0) return events;
            // struct inotify_event: int wd, u32 mask, u32 cookie, u32 len, char name[len].
            for (int at = 0; at + 16 <= n;)
            {
                int wd = BinaryPrimitives.ReadInt32LittleEndian(buffer.AsSpan(at));
                uint mask = BinaryPrimitives.ReadUInt32LittleEndian(buffer.AsSpan(at + 4));
                uint length = BinaryPrimitives.ReadUInt32LittleEndian(buffer.AsSpan(at + 12));
                events.Add((wd, mask));
                at += 16 + (int)length;
            }
        }
    }

    private static unsafe long ReadSome(int fd, byte[] buffer)
    {
        fixed (byte* p = buffer)
        {
            while (true)
            {
                long n = LibC.read(fd, p, (size_t)(ulong)buffer.Length);
                if (n >= 0) return n;
                var errno = LinuxErrno.Last();
                if (errno == Errno.EINTR) continue;
                if (errno == Errno.EAGAIN) return 0;
                throw LinuxErrno.CallFail("read", errno, "cannot read inotify events");
            }
        }
    }

    /// <summary>Closes the instance (every watch goes with it).</summary>
    public void Dispose() => _handle.Dispose();

    [LibraryImport("libc", SetLastError = true)]
    private static partial int inotify_init1(int flags);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int inotify_add_watch(int fd, string path, uint mask);
}
