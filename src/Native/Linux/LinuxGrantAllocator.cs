using System.Globalization;
using System.Runtime.InteropServices;
using Tmds.Linux;
using static BufferActors.Native.Linux.GntallocUapi;

namespace BufferActors.Native.Linux;

/// <summary>
/// The real grant allocator: <c>/dev/xen/gntalloc</c> of a Linux kernel running in a Xen domain,
/// driven by ioctl(2) and mmap(2). Each allocation is mapped into this process for as long as it lives,
/// so its pages can be filled and read; <see cref="Deallocate"/> unmaps it before ending the grants.
/// </summary>
public sealed unsafe class LinuxGrantAllocator : IGrantAllocator
{
    /// <summary>The usual device node.</summary>
    public const string DefaultPath = "/dev/xen/gntalloc";

    /// <summary>The gntalloc module parameter holding the grant limit (writable by root).</summary>
    public const string LimitPath = "/sys/module/xen_gntalloc/parameters/limit";

    /// <summary>The module's default grant limit.</summary>
    public const int DefaultLimit = 1024;

    private readonly FdSafeHandle _fd;
    private readonly Lock _gate = new();
    private readonly Dictionary<ulong, (GrantAllocation Allocation, MappedAllocation Pages)> _live = [];
    private bool _disposed;

    private LinuxGrantAllocator(FdSafeHandle fd) => _fd = fd;

    /// <inheritdoc />
    public int Limit
    {
        get
        {
            try
            {
                return int.TryParse(File.ReadAllText(LimitPath).Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out int limit)
                    ? limit
                    : DefaultLimit;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                return DefaultLimit;
            }
        }
    }

    /// <summary>Opens the grant allocator at <paramref name="path"/>.</summary>
    /// <exception cref="GrantDeviceUnavailableException">The node is absent, not accessible, or has no driver.</exception>
    public static LinuxGrantAllocator Open(string path = DefaultPath)
    {
        int fd = LinuxFiles.OpenReadWrite(path, out Errno errno);
        if (fd < 0)
        {
            throw new GrantDeviceUnavailableException(path, errno,
                $"cannot open {path} ({Marshal.GetPInvokeErrorMessage((int)errno)}). The grant allocator needs a Linux kernel " +
                "built with CONFIG_XEN_GRANT_DEV_ALLOC (module xen_gntalloc loaded), running in a Xen domain.");
        }

        return new LinuxGrantAllocator(new FdSafeHandle(fd));
    }

    /// <summary>Sets gntalloc's grant limit (root only; the limit is global, shared by every instance).</summary>
    public static void SetLimit(int limit)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(limit);
        File.WriteAllText(LimitPath, limit.ToString(CultureInfo.InvariantCulture));
    }

    /// <inheritdoc />
    public GrantAllocation Allocate(DomainId grantee, int count, bool writable = true)
    {
        const string op = "GNTALLOC_ALLOC_GREF";
        if (count <= 0)
        {
            throw LinuxErrno.Fail(op, Errno.EINVAL, $"page count {count} is below 1");
        }

        grantee.EnsureReal(op);
        ObjectDisposedException.ThrowIf(_disposed, this);

        var arg = (ioctl_gntalloc_alloc_gref*)NativeMemory.AllocZeroed(GntdevUapi.SizeWithTail(sizeof(ioctl_gntalloc_alloc_gref), sizeof(uint), count));
        ulong index;
        uint[] refs;
        try
        {
            arg->domid = grantee.Value;
            arg->flags = writable ? GNTALLOC_FLAG_WRITABLE : (ushort)0;
            arg->count = (uint)count;
            Ioctl(op, IOCTL_GNTALLOC_ALLOC_GREF, arg);
            index = arg->index;
            refs = new ReadOnlySpan<uint>(arg->gref_ids, count).ToArray();
        }
        finally
        {
            NativeMemory.Free(arg);
        }

        nuint length = (nuint)count * PageView.PageSize;
        void* address;
        Errno errno;
        using (FdSafeHandle.Lease fd = _fd.Borrow())
        {
            address = LibC.mmap(null, (size_t)(ulong)length, LibC.PROT_READ | LibC.PROT_WRITE, LibC.MAP_SHARED, fd.Fd, unchecked((long)index));
            errno = address == LibC.MAP_FAILED ? LinuxErrno.Last() : Errno.None;
        }

        if (errno != Errno.None)
        {
            DeallocateTable(index, count);
            throw LinuxErrno.Fail(op, errno, $"mmap of {count} allocated page(s) at offset 0x{index:X} failed");
        }

        var pages = new MappedAllocation((nint)address, count);
        var allocation = new GrantAllocation(index, grantee, refs, writable, pages);
        lock (_gate)
        {
            _live.Add(index, (allocation, pages));
        }

        return allocation;
    }

    /// <inheritdoc />
    public void Deallocate(GrantAllocation allocation)
    {
        ArgumentNullException.ThrowIfNull(allocation);
        const string op = "GNTALLOC_DEALLOC_GREF";
        ObjectDisposedException.ThrowIf(_disposed, this);
        MappedAllocation pages;
        lock (_gate)
        {
            if (!_live.Remove(allocation.Index, out var live) || !ReferenceEquals(live.Allocation, allocation))
            {
                throw LinuxErrno.Fail(op, Errno.EINVAL, $"no live allocation at offset 0x{allocation.Index:X} on this allocator");
            }

            pages = live.Pages;
        }

        // The mapping holds the pages too: it goes first, so the ioctl's release is the last one.
        pages.Unmap();
        var arg = new ioctl_gntalloc_dealloc_gref { index = allocation.Index, count = (uint)allocation.PageCount };
        Ioctl(op, IOCTL_GNTALLOC_DEALLOC_GREF, &arg);
    }

    /// <inheritdoc />
    public void SetUnmapNotify(GrantAllocation allocation, int byteOffset, UnmapNotifyActions action, uint eventChannelPort = 0)
    {
        ArgumentNullException.ThrowIfNull(allocation);
        ArgumentOutOfRangeException.ThrowIfNegative(byteOffset);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(byteOffset, allocation.PageCount * PageView.PageSize);
        ObjectDisposedException.ThrowIf(_disposed, this);
        var arg = new ioctl_gntalloc_unmap_notify { index = allocation.Index + (ulong)byteOffset, action = (uint)action, event_channel_port = eventChannelPort };
        Ioctl("GNTALLOC_SET_UNMAP_NOTIFY", IOCTL_GNTALLOC_SET_UNMAP_NOTIFY, &arg);
    }

    /// <summary>Unmaps every allocation and closes the instance: the kernel deallocates what it still holds.</summary>
    public void Dispose()
    {
        MappedAllocation[] live;
        lock (_gate)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            live = [.. _live.Values.Select(v => v.Pages)];
            _live.Clear();
        }

        foreach (MappedAllocation pages in live)
        {
            pages.Unmap();
        }

        _fd.Dispose();
    }

    private void Ioctl(string operation, uint request, void* arg)
    {
        Errno errno;
        using (FdSafeHandle.Lease fd = _fd.Borrow())
        {
            LinuxFiles.Ioctl(fd.Fd, request, arg, out errno);
        }

        if (errno != Errno.None)
        {
            throw LinuxErrno.Fail(operation, errno);
        }
    }

    private void DeallocateTable(ulong index, int count)
    {
        var arg = new ioctl_gntalloc_dealloc_gref { index = index, count = (uint)count };
        using FdSafeHandle.Lease fd = _fd.Borrow();
        LibC.ioctl(fd.Fd, unchecked((int)IOCTL_GNTALLOC_DEALLOC_GREF), &arg);
    }

    /// <summary>The pages of one allocation, as mmapped into this process.</summary>
    private sealed class MappedAllocation(nint address, int pageCount) : PageView
    {
        private nint _address = address;

        public override int PageCount { get; } = pageCount;

        protected override Span<byte> Bytes(int index)
        {
            ArgumentOutOfRangeException.ThrowIfNegative(index);
            ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, PageCount);
            nint address = Volatile.Read(ref _address);
            ObjectDisposedException.ThrowIf(address == 0, this);
            return new Span<byte>((byte*)address + ((nint)index * PageSize), PageSize);
        }

        public void Unmap()
        {
            nint address = Interlocked.Exchange(ref _address, 0);
            if (address != 0)
            {
                LibC.munmap((void*)address, (size_t)((ulong)PageCount * PageSize));
            }
        }
    }
}
