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

    /// <summary>lseek(fd, 0, SEEK_END): the size of a dma-buf (or any seekable file); -1 and the errno on failure.</summary>
    public static long SizeOf(int fd, out Errno errno)
    {
        const int SEEK_END = 2;
        long size = LibC.lseek(fd, 0, SEEK_END);
        LinuxErrno.Failed(size, out errno);
        return size;
    }
}
