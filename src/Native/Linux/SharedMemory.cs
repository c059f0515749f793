using System.Text;
using Tmds.Linux;
using static Tmds.Linux.LibC;

namespace BufferActors.Native.Linux;

/// <summary>
/// Memory shared through a file descriptor (sys/mman.h, memfd_create(2)): a sparse memfd, and MAP_SHARED mappings of
/// one, so that two processes that hold the descriptor see the same bytes. Failures become a
/// <see cref="NativeCallException"/> through <see cref="LinuxErrno"/>.
/// </summary>
internal static unsafe class SharedMemory
{
    /// <summary>A new close-on-exec memfd named <paramref name="name"/> of <paramref name="length"/> zero bytes (sparse: untouched pages cost nothing).</summary>
    public static int CreateMemfd(string name, long length, bool allowSealing = false)
    {
        var nameBytes = Encoding.ASCII.GetBytes(name + "\0");
        int fd;
        fixed (byte* n = nameBytes) fd = memfd_create(n, (uint)MFD_CLOEXEC | (allowSealing ? UdmabufUapi.MFD_ALLOW_SEALING : 0u));
        if (fd < 0) throw LinuxErrno.CallFail("memfd_create", LinuxErrno.Last(), $"cannot create memory '{name}'");
        if (ftruncate(fd, length) != 0)
        {
            var failed = LinuxErrno.CallFail("ftruncate", LinuxErrno.Last(), $"cannot size memory '{name}' to {length} bytes");
            close(fd);
            throw failed;
        }
        return fd;
    }

    /// <summary>
    /// Seals a memfd created with sealing allowed against writes and resizing: no one can change its bytes or map it
    /// writable any more. EBUSY while a writable shared mapping of it exists.
    /// </summary>
    public static void SealReadOnly(int fd)
    {
        const int seals = UdmabufUapi.F_SEAL_WRITE | UdmabufUapi.F_SEAL_SHRINK | UdmabufUapi.F_SEAL_GROW;
        if (fcntl(fd, UdmabufUapi.F_ADD_SEALS, seals) != 0) throw LinuxErrno.CallFail("fcntl", LinuxErrno.Last(), $"cannot seal memory fd {fd} read-only");
    }

    /// <summary>Maps <paramref name="length"/> bytes of <paramref name="fd"/> at <paramref name="offset"/> MAP_SHARED.</summary>
    public static MappedRegion MapShared(int fd, long offset, long length, bool writable)
    {
        int prot = PROT_READ | (writable ? PROT_WRITE : 0);
        void* address = mmap(null, (size_t)(ulong)length, prot, MAP_SHARED, fd, offset);
        if (address == MAP_FAILED) throw LinuxErrno.CallFail("mmap", LinuxErrno.Last(), $"cannot map {length} bytes of fd {fd} at offset {offset}");
        return new MappedRegion((nint)address, length);
    }
}
