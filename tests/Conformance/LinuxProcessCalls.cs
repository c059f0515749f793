using System.Runtime.InteropServices;
using BufferActors.Native;
using Tmds.Linux;

namespace BufferActors.Conformance;

/// <summary>The process-level calls the Linux target needs, errno turned into <see cref="GntdevException"/>.</summary>
internal static unsafe class LinuxProcessCalls
{
    public static int MemfdCreate()
    {
        byte* name = stackalloc byte[] { (byte)'p', (byte)'l', (byte)'a', (byte)'i', (byte)'n', 0 };
        return Check("memfd_create", LibC.memfd_create(name, 1 /* MFD_CLOEXEC */));
    }

    public static void Close(int fd) => Check("close", LibC.close(fd));

    public static int Dup(int fd) => Check("dup", LibC.fcntl(fd, 1030 /* F_DUPFD_CLOEXEC */, 0));

    public static long SizeOf(int fd)
    {
        long size = LibC.lseek(fd, 0, 2 /* SEEK_END */);
        return size >= 0 ? size : throw Error("lseek");
    }

    private static int Check(string op, int rc) => rc >= 0 ? rc : throw Error(op);

    private static GntdevException Error(string op)
    {
        var errno = (Errno)LibC.errno;
        return new GntdevException(op, errno, Marshal.GetPInvokeErrorMessage((int)errno));
    }
}
