using System.Runtime.InteropServices;
using BufferActors.Native;
using BufferActors.Native.Linux;
using Tmds.Linux;

namespace BufferActors.Conformance;

/// <summary>
/// The process-level calls the Linux target needs, errno turned into <see cref="GntdevException"/>: the file
/// calls of <see cref="LinuxFiles"/>, which the devices use, and the few only the suite makes.
/// </summary>
internal static unsafe class LinuxProcessCalls
{
    public static int MemfdCreate()
    {
        byte* name = stackalloc byte[] { (byte)'p', (byte)'l', (byte)'a', (byte)'i', (byte)'n', 0 };
        return Check("memfd_create", LibC.memfd_create(name, 1 /* MFD_CLOEXEC */));
    }

    public static void Close(int fd) => Throw("close", LinuxFiles.Close(fd));

    public static int Dup(int fd)
    {
        int copy = LinuxFiles.DupCloexec(fd, out Errno errno);
        Throw("dup", errno);
        return copy;
    }

    public static void Mprotect(nint address, nuint length, int prot) =>
        Check("mprotect", LibC.mprotect((void*)address, (size_t)(ulong)length, prot));

    public static void Dup3(int fd, int number) => Throw("dup3", LinuxFiles.Dup3(fd, number));

    /// <summary>delete_module(2), O_NONBLOCK: EBUSY (EWOULDBLOCK) while the module is in use.</summary>
    public static void DeleteModule(string name)
    {
        byte[] bytes = System.Text.Encoding.ASCII.GetBytes(name + "\0");
        fixed (byte* p = bytes) CheckSyscall("delete_module", Syscall(Sys.DeleteModule, (nint)p, 0x800 /* O_NONBLOCK */, 0));
    }

    /// <summary>finit_module(2) of the module file at <paramref name="path"/>, no parameters.</summary>
    public static void LoadModule(string path)
    {
        using var file = File.OpenHandle(path);
        byte empty = 0;
        CheckSyscall("finit_module", Syscall(Sys.FinitModule, file.DangerousGetHandle(), (nint)(&empty), 0));
    }

    // glibc has no wrappers for these two on every version; the numbers are the generic table's (arm64) or x86-64's.
    private static class Sys
    {
        public static readonly nint DeleteModule = RuntimeInformation.ProcessArchitecture == Architecture.X64 ? 176 : 106;
        public static readonly nint FinitModule = RuntimeInformation.ProcessArchitecture == Architecture.X64 ? 313 : 273;
    }

    [DllImport("libc", EntryPoint = "syscall", SetLastError = true)]
    private static extern nint Syscall(nint number, nint a, nint b, nint c);

    public static long SizeOf(int fd)
    {
        long size = LinuxFiles.SizeOf(fd, out Errno errno);
        Throw("lseek", errno);
        return size;
    }

    private static void Throw(string op, Errno errno)
    {
        if (errno != Errno.None) throw LinuxErrno.Fail(op, errno);
    }

    private static void CheckSyscall(string op, nint rc)
    {
        if (rc < 0)
        {
            var errno = (Errno)Marshal.GetLastPInvokeError();
            throw new GntdevException(op, errno, Marshal.GetPInvokeErrorMessage((int)errno));
        }
    }

    private static int Check(string op, int rc) => rc >= 0 ? rc : throw Error(op);

    private static GntdevException Error(string op)
    {
        var errno = (Errno)LibC.errno;
        return new GntdevException(op, errno, Marshal.GetPInvokeErrorMessage((int)errno));
    }
}
