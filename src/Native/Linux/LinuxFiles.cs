using System.Text;
using Tmds.Linux;

namespace BufferActors.Native.Linux;

/// <summary>The file calls the Linux devices share: open with EINTR retried, close without retry, dup.</summary>
internal static unsafe class LinuxFiles
{
    /// <summary>open(2) of <paramref name="path"/> O_RDWR | O_CLOEXEC; -1 and the errno on failure.</summary>
    public static int OpenReadWrite(string path, out Errno errno)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (path.Contains('\0', StringComparison.Ordinal))
        {
            throw new ArgumentException("The path contains a NUL character.", nameof(path));
        }

        byte[] cpath = Encoding.UTF8.GetBytes(path + "\0");
        int fd;
        fixed (byte* p = cpath)
        {
            do
            {
                fd = LibC.open(p, LibC.O_RDWR | LibC.O_CLOEXEC, default);
            }
            while (LinuxErrno.Failed(fd, out errno) && errno == Errno.EINTR);
        }

        return fd;
    }

    /// <summary>close(2), never retried: on Linux the number is free even after EINTR, and a retry could close another thread's new file.</summary>
    public static Errno Close(int fd) =>
        LinuxErrno.Failed(LibC.close(fd), out Errno errno) && errno != Errno.EINTR ? errno : Errno.None;

    /// <summary>fcntl(F_DUPFD_CLOEXEC): a new descriptor (the lowest free number) for the same open file.</summary>
    public static int DupCloexec(int fd, out Errno errno)
    {
        const int F_DUPFD_CLOEXEC = 1030;
        int copy = LibC.fcntl(fd, F_DUPFD_CLOEXEC, 0);
        LinuxErrno.Failed(copy, out errno);
        return copy;
    }

    /// <summary>ioctl(2), EINTR retried unless <paramref name="retryInterrupted"/> is false; the call's result, and the errno (None on success).</summary>
    public static int Ioctl(int fd, uint request, void* arg, out Errno errno, bool retryInterrupted = true)
    {
        int rc;
        while (LinuxErrno.Failed(rc = LibC.ioctl(fd, unchecked((int)request), arg), out errno) && errno == Errno.EINTR && retryInterrupted)
        {
        }

        return rc;
    }

    /// <summary>dup3(fd, number, O_CLOEXEC): <paramref name="number"/> names <paramref name="fd"/>'s file, what it named before closed in the same step.</summary>
    public static Errno Dup3(int fd, int number)
    {
        int rc;
        Errno errno;
        do
        {
            rc = LibC.dup3(fd, number, LibC.O_CLOEXEC);
        }
        while (LinuxErrno.Failed(rc, out errno) && errno == Errno.EINTR);
        return rc >= 0 ? Errno.None : errno;
    }

    /// <summary>open(2) of /dev/null O_RDONLY | O_CLOEXEC: the placeholder that keeps a number taken.</summary>
    public static int OpenDevNull(out Errno errno)
    {
        byte* path = stackalloc byte[] { (byte)'/', (byte)'d', (byte)'e', (byte)'v', (byte)'/', (byte)'n', (byte)'u', (byte)'l', (byte)'l', 0 };
        int fd;
        do
        {
            fd = LibC.open(path, LibC.O_RDONLY | LibC.O_CLOEXEC, default);
        }
        while (LinuxErrno.Failed(fd, out errno) && errno == Errno.EINTR);
        return fd;
    }

    /// <summary>lseek(fd, 0, SEEK_END): the size of a dma-buf (or any seekable file); -1 and the errno on failure.</summary>
    public static long SizeOf(int fd, out Errno errno)
    {
        const int SEEK_END = 2;
        long size = LibC.lseek(fd, 0, SEEK_END);
        LinuxErrno.Failed(size, out errno);
        return size;
    }

    /// <summary>The identity of the file behind <paramref name="fd"/>: its device and inode (stat(2) of <c>/proc/self/fd/N</c>).</summary>
    public static (ulong Device, ulong Inode) Identity(int fd, out Errno errno)
    {
        byte[] path = Encoding.ASCII.GetBytes($"/proc/self/fd/{fd}\0");
        stat st = default;
        fixed (byte* p = path)
        {
            if (LinuxErrno.Failed(LibC.stat(p, &st), out errno)) return (0, 0);
        }
        return ((ulong)st.st_dev, (ulong)st.st_ino);
    }
}
