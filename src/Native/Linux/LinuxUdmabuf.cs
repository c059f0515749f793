using System.Runtime.InteropServices;
using System.Text;
using Tmds.Linux;
using static BufferActors.Native.Linux.UdmabufUapi;

namespace BufferActors.Native.Linux;

/// <summary>
/// A dma-buf of ordinary memory made by <c>/dev/udmabuf</c> from a sealed memfd: the dma-buf source a
/// backend imports (DMABUF_IMP_TO_REFS) when no device allocates one, and the page view of the memfd
/// that fills and checks its contents.
/// </summary>
/// <remarks>
/// The dma-buf fd (<see cref="Fd"/>) belongs to this object until <see cref="CloseDmaBuf"/> or
/// <see cref="Dispose"/>; an import holds its own reference on the buffer, so the fd may be closed while
/// imports live. The memfd mapping stays valid until <see cref="Dispose"/>.
/// </remarks>
public sealed unsafe class LinuxUdmabuf : IDisposable
{
    /// <summary>The usual device node.</summary>
    public const string DefaultPath = "/dev/udmabuf";

    private readonly FdSafeHandle _memfd;
    private FdSafeHandle? _dmabuf;
    private nint _address;

    private LinuxUdmabuf(FdSafeHandle memfd, FdSafeHandle dmabuf, nint address, int pages)
    {
        _memfd = memfd;
        _dmabuf = dmabuf;
        _address = address;
        Fd = dmabuf.DangerousGetFd();
        Pages = new MemfdPages(this, pages);
    }

    /// <summary>The dma-buf's descriptor number (not an identity once closed: numbers are reused).</summary>
    public int Fd { get; }

    /// <summary>The memfd's pages: the very memory the dma-buf is made of.</summary>
    public PageView Pages { get; }

    /// <summary>Creates a dma-buf of <paramref name="pages"/> zeroed pages.</summary>
    public static LinuxUdmabuf Create(int pages, string path = DefaultPath)
    {
        const string op = "UDMABUF_CREATE";
        if (pages <= 0)
        {
            throw LinuxErrno.Fail(op, Errno.EINVAL, $"page count {pages} is below 1");
        }

        long size = (long)pages * PageView.PageSize;
        byte[] name = Encoding.ASCII.GetBytes("bufferactors-udmabuf\0");
        int memfd;
        fixed (byte* n = name)
        {
            memfd = LibC.memfd_create(n, MFD_CLOEXEC | MFD_ALLOW_SEALING);
        }

        if (LinuxErrno.Failed(memfd, out Errno errno))
        {
            throw LinuxErrno.Fail("memfd_create", errno);
        }

        var memHandle = new FdSafeHandle(memfd);
        int device = -1;
        try
        {
            if (LinuxErrno.Failed(LibC.ftruncate(memfd, size), out errno))
            {
                throw LinuxErrno.Fail("ftruncate", errno, $"cannot size the memfd to {pages} page(s)");
            }

            if (LinuxErrno.Failed(LibC.fcntl(memfd, F_ADD_SEALS, F_SEAL_SHRINK), out errno))
            {
                throw LinuxErrno.Fail("fcntl", errno, "cannot seal the memfd against shrinking (udmabuf requires F_SEAL_SHRINK)");
            }

            device = LinuxFiles.OpenReadWrite(path, out errno);
            if (device < 0)
            {
                throw new GrantDeviceUnavailableException(path, errno,
                    $"cannot open {path} ({Marshal.GetPInvokeErrorMessage((int)errno)}); it needs a kernel with CONFIG_UDMABUF");
            }

            var arg = new udmabuf_create { memfd = (uint)memfd, flags = UDMABUF_FLAGS_CLOEXEC, offset = 0, size = (ulong)size };
            int dmabuf = LinuxFiles.Ioctl(device, UDMABUF_CREATE, &arg, out errno);

            if (errno != Errno.None)
            {
                throw LinuxErrno.Fail(op, errno, $"cannot make a dma-buf of {pages} page(s) (udmabuf's size_limit_mb bounds it)");
            }

            var dmabufHandle = new FdSafeHandle(dmabuf);
            void* address = LibC.mmap(null, (size_t)(ulong)size, LibC.PROT_READ | LibC.PROT_WRITE, LibC.MAP_SHARED, memfd, 0);
            if (address == LibC.MAP_FAILED)
            {
                errno = LinuxErrno.Last();
                dmabufHandle.Dispose();
                throw LinuxErrno.Fail("mmap", errno, "cannot map the memfd");
            }

            return new LinuxUdmabuf(memHandle, dmabufHandle, (nint)address, pages);
        }
        catch
        {
            memHandle.Dispose();
            throw;
        }
        finally
        {
            if (device >= 0)
            {
                LinuxFiles.Close(device);
            }
        }
    }

    /// <summary>Closes the dma-buf fd (imports keep the buffer alive); the memfd view stays. Once only.</summary>
    public void CloseDmaBuf()
    {
        FdSafeHandle? handle = Interlocked.Exchange(ref _dmabuf, null);
        ObjectDisposedException.ThrowIf(handle is null, this);
        handle.Dispose();
    }

    /// <summary>True until <see cref="CloseDmaBuf"/> or <see cref="Dispose"/>.</summary>
    public bool OwnsFd => Volatile.Read(ref _dmabuf) is not null;

    /// <summary>Closes the dma-buf fd (if still held), unmaps and closes the memfd.</summary>
    public void Dispose()
    {
        Interlocked.Exchange(ref _dmabuf, null)?.Dispose();
        nint address = Interlocked.Exchange(ref _address, 0);
        if (address != 0)
        {
            LibC.munmap((void*)address, (size_t)((ulong)Pages.PageCount * PageView.PageSize));
        }

        _memfd.Dispose();
    }

    private sealed class MemfdPages(LinuxUdmabuf owner, int pageCount) : PageView
    {
        public override int PageCount { get; } = pageCount;

        protected override Span<byte> Bytes(int index)
        {
            ArgumentOutOfRangeException.ThrowIfNegative(index);
            ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, PageCount);
            nint address = Volatile.Read(ref owner._address);
            ObjectDisposedException.ThrowIf(address == 0, owner);
            return new Span<byte>((byte*)address + ((nint)index * PageSize), PageSize);
        }
    }
}
