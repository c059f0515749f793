using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using Tmds.Linux;
using static BufferActors.Native.Linux.GntdevUapi;

namespace BufferActors.Native.Linux;

/// <summary>
/// The real grant device: <c>/dev/xen/gntdev</c> of a Linux kernel running in a Xen domain, driven by
/// ioctl(2) and mmap(2).
/// </summary>
/// <remarks>
/// <para>Open one with <see cref="Open"/>. Every failing call throws <see cref="GntdevException"/> with the
/// kernel's errno; the operation name is the ioctl's name without its <c>IOCTL_GNTDEV_</c> prefix.
/// Arguments the kernel would refuse with EINVAL (page counts, DMA flags, reserved domains) are refused
/// here first, with a more precise reason.</para>
/// <para>The page views of a <see cref="GrantMapping"/> point straight into the mapped grants: they are
/// valid until <see cref="UnmapGrantRefs"/> or <see cref="Dispose"/>, after which
/// <see cref="PageView.Page"/> throws <see cref="ObjectDisposedException"/>. A span obtained before the
/// unmap must not be used after it. A read-only mapping is mapped without PROT_WRITE and MAP_PRIVATE, so it
/// can never be made writable: writing through its spans faults the process.</para>
/// </remarks>
public sealed unsafe class LinuxGrantDevice : IGrantDevice
{
    /// <summary>The usual device node.</summary>
    public const string DefaultPath = "/dev/xen/gntdev";

    /// <summary>The gntdev module parameter holding the page limit.</summary>
    public const string PageLimitPath = "/sys/module/xen_gntdev/parameters/limit";

    /// <summary>The page limit when <see cref="PageLimitPath"/> cannot be read (the module's default).</summary>
    public const int DefaultPageLimit = 65536;

    // errno values that are not part of the gntdev interface's Errno enum but can come from open(2).
    private const Errno ENXIO = (Errno)6;
    private const Errno ENOTDIR = (Errno)20;

    private readonly FdSafeHandle _fd;
    private readonly Lock _gate = new();
    private readonly Dictionary<ulong, GrantMapping> _maps = [];
    private readonly HashSet<PeerGrantMapping> _peerMaps = [];
    private FdSafeHandle? _placeholder; // /dev/null, opened on first ReplaceWithPlaceholder
    private bool _disposed;

    private LinuxGrantDevice(FdSafeHandle fd, string path, int pageLimit)
    {
        _fd = fd;
        DevicePath = path;
        PageLimit = pageLimit;
    }

    /// <summary>The device node this instance opened.</summary>
    public string DevicePath { get; }

    /// <inheritdoc />
    public int PageLimit { get; }

    /// <summary>Opens the grant device at <paramref name="path"/> read-write (O_RDWR | O_CLOEXEC).</summary>
    /// <exception cref="GrantDeviceUnavailableException">The node is absent, not accessible, or has no driver.</exception>
    public static LinuxGrantDevice Open(string path = DefaultPath) =>
        new(OpenInstance(path), path, ReadPageLimit(PageLimitPath));

    /// <summary>open(2) of a new instance of the device at <paramref name="path"/>, read-write and close-on-exec.</summary>
    private static FdSafeHandle OpenInstance(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (path.Contains('\0', StringComparison.Ordinal))
        {
            throw new ArgumentException("The path contains a NUL character.", nameof(path));
        }

        byte[] cpath = Encoding.UTF8.GetBytes(path + "\0");
        int fd;
        Errno errno;
        fixed (byte* p = cpath)
        {
            do
            {
                fd = LibC.open(p, LibC.O_RDWR | LibC.O_CLOEXEC, default);
            }
            while (Failed(fd, out errno) && errno == Errno.EINTR);
        }

        if (errno != Errno.None)
        {
            throw Unavailable(path, errno);
        }

        return new FdSafeHandle(fd);
    }

    /// <inheritdoc />
    public GrantMapping MapGrantRefs(DomainId domain, ReadOnlySpan<uint> refs, bool readOnly = false)
    {
        const string op = "MAP_GRANT_REF";
        ValidateMap(domain, refs.Length, PageLimit);
        ThrowIfDisposed();

        ulong index = MapTable(_fd, domain, refs);

        // The grants are mapped by the mmap of the range the ioctl reserved; without PROT_WRITE the kernel
        // maps them read-only. A read-only map is also MAP_PRIVATE: gntdev_mmap clears VM_MAYWRITE only for
        // private mappings, so no mprotect can make it writable later (a write through a shared read-only
        // grant map made writable leaves the writer spinning in the fault handler for ever).
        nuint length = (nuint)refs.Length * PageView.PageSize;
        int prot = LibC.PROT_READ | (readOnly ? 0 : LibC.PROT_WRITE);
        void* address = Mmap(length, prot, readOnly ? LibC.MAP_PRIVATE : LibC.MAP_SHARED, index, out Errno errno);
        if (errno != Errno.None)
        {
            // Leave the device as it was: take the references back out of the instance's map table.
            UnmapTable(index, refs.Length);
            throw Fail(op, errno, $"mmap of {refs.Length} page(s) granted by {domain} at offset 0x{index:X} failed");
        }

        var mapping = new GrantMapping(index, domain, refs.ToArray(), readOnly, new MappedPages((nint)address, refs.Length, readOnly));
        lock (_gate)
        {
            if (!_disposed)
            {
                _maps.Add(index, mapping);
                return mapping;
            }
        }

        // Disposed while mapping: undo and report.
        ((MappedPages)mapping.Pages).Unmap();
        throw new ObjectDisposedException(nameof(LinuxGrantDevice));
    }

    /// <inheritdoc />
    public void UnmapGrantRefs(GrantMapping mapping)
    {
        ArgumentNullException.ThrowIfNull(mapping);
        const string op = "UNMAP_GRANT_REF";
        ThrowIfDisposed();

        lock (_gate)
        {
            if (!_maps.TryGetValue(mapping.Index, out GrantMapping? live) || !ReferenceEquals(live, mapping))
            {
                throw Fail(op, Errno.ENOENT, $"no live mapping at offset 0x{mapping.Index:X} on this device (already unmapped, or mapped elsewhere)");
            }

            _maps.Remove(mapping.Index);
        }

        Errno errno = ((MappedPages)mapping.Pages).Unmap();
        if (errno != Errno.None)
        {
            throw Fail(op, errno, $"munmap of the mapping at offset 0x{mapping.Index:X} failed");
        }

        var arg = new ioctl_gntdev_unmap_grant_ref { index = mapping.Index, count = (uint)mapping.PageCount };
        Ioctl(op, IOCTL_GNTDEV_UNMAP_GRANT_REF, &arg);
    }

    /// <inheritdoc />
    /// <remarks>
    /// The map is made on a gntdev instance of its own (a new open of <see cref="DevicePath"/>), whose descriptor is
    /// <see cref="PeerGrantMapping.File"/>: the receiver can mmap this map and no other. It is not mmapped here: the
    /// kernel lets a grant map be mmapped once, maps the grants at that mmap and takes read-only from its protection,
    /// so <paramref name="readOnly"/> is the receiver's to keep.
    /// </remarks>
    public PeerGrantMapping MapGrantRefsForPeer(DomainId domain, ReadOnlySpan<uint> refs, bool readOnly = false)
    {
        ValidateMap(domain, refs.Length, PageLimit);
        ThrowIfDisposed();
        FdSafeHandle instance = OpenInstance(DevicePath);
        try
        {
            ulong index = MapTable(instance, domain, refs);
            var file = new Microsoft.Win32.SafeHandles.SafeFileHandle(instance.DangerousGetHandle(), ownsHandle: true);
            instance.SetHandleAsInvalid(); // the descriptor now belongs to the file
            var mapping = new PeerGrantMapping(index, domain, refs.ToArray(), readOnly, file, index);
            lock (_gate)
            {
                if (!_disposed)
                {
                    _peerMaps.Add(mapping);
                    return mapping;
                }
            }

            file.Dispose(); // closing the instance unmaps what it holds
            throw new ObjectDisposedException(nameof(LinuxGrantDevice));
        }
        finally
        {
            instance.Dispose();
        }
    }

    /// <inheritdoc />
    public void UnmapPeerGrantRefs(PeerGrantMapping mapping)
    {
        ArgumentNullException.ThrowIfNull(mapping);
        const string op = "UNMAP_GRANT_REF";
        lock (_gate)
        {
            if (!_peerMaps.Remove(mapping))
            {
                throw Fail(op, Errno.ENOENT, $"no live map for another process at offset 0x{mapping.Index:X} on this device (already unmapped, or mapped elsewhere)");
            }
        }

        // The receiver may still have the pages mmapped: the kernel then unmaps them with its last mapping.
        var arg = new ioctl_gntdev_unmap_grant_ref { index = mapping.Index, count = (uint)mapping.PageCount };
        bool added = false;
        try
        {
            mapping.File.DangerousAddRef(ref added);
            LinuxFiles.Ioctl((int)mapping.File.DangerousGetHandle(), IOCTL_GNTDEV_UNMAP_GRANT_REF, &arg, out Errno errno, retryInterrupted: true);
            if (errno != Errno.None)
            {
                throw Fail(op, errno, $"unmap of the map for another process at offset 0x{mapping.Index:X} failed");
            }
        }
        finally
        {
            if (added)
            {
                mapping.File.DangerousRelease();
            }

            mapping.File.Dispose();
        }
    }

    /// <summary>
    /// DMABUF_EXP_FROM_REFS with no argument (a null pointer), which exports nothing and changes nothing: the driver
    /// answers EFAULT when it goes on to read the argument (exports are possible), EINVAL when it refuses before
    /// (a PV domain, whose grant maps are made by PTE), ENOTTY when it has no dma-buf ioctls.
    /// </summary>
    public Errno ProbeExport()
    {
        ThrowIfDisposed();
        return TryIoctl(IOCTL_GNTDEV_DMABUF_EXP_FROM_REFS, null);
    }

    /// <inheritdoc />
    public ExportedDmaBuf ExportDmaBuf(DmaBufFlags flags, DomainId domain, ReadOnlySpan<uint> refs)
    {
        const string op = "DMABUF_EXP_FROM_REFS";
        ValidateExport(flags, domain, refs.Length, PageLimit);
        ThrowIfDisposed();

        var arg = (ioctl_gntdev_dmabuf_exp_from_refs*)NativeMemory.AllocZeroed(
            SizeWithTail(sizeof(ioctl_gntdev_dmabuf_exp_from_refs), sizeof(uint), refs.Length));
        try
        {
            arg->flags = (uint)flags;
            arg->count = (uint)refs.Length;
            arg->domid = domain.Value;
            refs.CopyTo(new Span<uint>(arg->refs, refs.Length));

            Ioctl(op, IOCTL_GNTDEV_DMABUF_EXP_FROM_REFS, arg);
            return new ExportedDmaBuf((int)arg->fd, domain, refs.ToArray(), flags);
        }
        finally
        {
            NativeMemory.Free(arg);
        }
    }

    /// <inheritdoc />
    public WaitReleasedResult WaitReleased(int fd, uint timeoutMs)
    {
        const string op = "DMABUF_EXP_WAIT_RELEASED";
        ThrowIfDisposed();

        // EINTR is retried here rather than in TryIoctl so that a retry waits only for what is left.
        long start = Stopwatch.GetTimestamp();
        var arg = new ioctl_gntdev_dmabuf_exp_wait_released { fd = unchecked((uint)fd), wait_to_ms = timeoutMs };
        Errno errno;
        while ((errno = TryIoctl(IOCTL_GNTDEV_DMABUF_EXP_WAIT_RELEASED, &arg, retryInterrupted: false)) == Errno.EINTR)
        {
            double elapsed = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
            arg.wait_to_ms = elapsed >= timeoutMs ? 0 : (uint)Math.Ceiling(timeoutMs - elapsed);
        }

        return errno switch
        {
            Errno.None => WaitReleasedResult.Released,
            Errno.ETIMEDOUT => WaitReleasedResult.TimedOut,
            Errno.ENOENT => WaitReleasedResult.NotFound,
            _ => throw Fail(op, errno),
        };
    }

    /// <inheritdoc />
    public ImportedDmaBuf ImportDmaBuf(int fd, int count, DomainId domain)
    {
        const string op = "DMABUF_IMP_TO_REFS";
        ValidateImport(domain, count, PageLimit);
        ThrowIfDisposed();

        var arg = (ioctl_gntdev_dmabuf_imp_to_refs*)NativeMemory.AllocZeroed(
            SizeWithTail(sizeof(ioctl_gntdev_dmabuf_imp_to_refs), sizeof(uint), count));
        try
        {
            arg->fd = unchecked((uint)fd);
            arg->count = (uint)count;
            arg->domid = domain.Value;
            arg->reserved = 0;

            Ioctl(op, IOCTL_GNTDEV_DMABUF_IMP_TO_REFS, arg);
            return new ImportedDmaBuf(fd, domain, new ReadOnlySpan<uint>(arg->refs, count).ToArray());
        }
        finally
        {
            NativeMemory.Free(arg);
        }
    }

    /// <inheritdoc />
    public void ReleaseImport(int fd)
    {
        ThrowIfDisposed();
        var arg = new ioctl_gntdev_dmabuf_imp_release { fd = unchecked((uint)fd), reserved = 0 };
        Ioctl("DMABUF_IMP_RELEASE", IOCTL_GNTDEV_DMABUF_IMP_RELEASE, &arg);
    }

    /// <inheritdoc />
    /// <remarks>Always null: no gntdev ioctl reports the grant table's deferred list.</remarks>
    public IReadOnlyList<uint>? PendingEndAccess(ReadOnlySpan<uint> refs) => null;

    /// <inheritdoc />
    public void CloseFd(int fd)
    {
        if (!_fd.IsClosed && fd == (int)_fd.DangerousGetHandle())
        {
            throw new ArgumentException("The descriptor is the grant device's own; dispose the device instead.", nameof(fd));
        }

        // Not retried on EINTR: on Linux the descriptor is released even then.
        Errno errno = Failed(LibC.close(fd), out Errno e) ? e : Errno.None;
        if (errno is not (Errno.None or Errno.EINTR))
        {
            throw Fail("close", errno, $"close({fd}) failed");
        }
    }

    /// <inheritdoc />
    public int DuplicateFd(int fd)
    {
        int copy = LinuxFiles.DupCloexec(fd, out Errno errno);
        return copy >= 0 ? copy : throw Fail("dup", errno, $"fcntl({fd}, F_DUPFD_CLOEXEC) failed");
    }

    /// <inheritdoc />
    public Microsoft.Win32.SafeHandles.SafeFileHandle ShareDmaBuf(int fd) => new(DuplicateFd(fd), ownsHandle: true);

    /// <inheritdoc />
    public int AdoptDmaBuf(System.Runtime.InteropServices.SafeHandle descriptor)
    {
        ArgumentNullException.ThrowIfNull(descriptor);
        bool added = false;
        try
        {
            descriptor.DangerousAddRef(ref added);
            return DuplicateFd((int)descriptor.DangerousGetHandle());
        }
        finally
        {
            if (added) descriptor.DangerousRelease();
        }
    }

    /// <inheritdoc />
    public void ReplaceWithPlaceholder(int fd)
    {
        ThrowIfOwn(fd);
        // One /dev/null, opened on first use, is dup3'ed onto every number to keep; each copy is its own descriptor.
        FdSafeHandle placeholder;
        lock (_gate)
        {
            if (_placeholder is null)
            {
                int opened = LinuxFiles.OpenDevNull(out Errno openErrno);
                _placeholder = opened >= 0 ? new FdSafeHandle(opened) : throw Fail("open", openErrno, "open(/dev/null) for fd placeholders failed");
            }
            placeholder = _placeholder;
        }
        // dup3 onto a number that is not open would take a free number instead of refusing: check first.
        if (LinuxFiles.SizeOf(fd, out Errno probe) < 0 && probe == Errno.EBADF) throw Fail("dup3", Errno.EBADF, $"fd {fd} is not open");
        using FdSafeHandle.Lease source = placeholder.Borrow();
        Errno errno = LinuxFiles.Dup3(source.Fd, fd);
        if (errno != Errno.None) throw Fail("dup3", errno, $"dup3(placeholder, {fd}) failed");
    }

    private void ThrowIfOwn(int fd)
    {
        if (!_fd.IsClosed && fd == (int)_fd.DangerousGetHandle())
        {
            throw Fail("dup3", Errno.EINVAL, $"fd {fd} is the grant device's own descriptor");
        }
    }

    /// <summary>
    /// GET_OFFSET_FOR_VADDR: the mmap offset and page count of the mapping that begins at
    /// <paramref name="vaddr"/> in this process.
    /// </summary>
    public (ulong Offset, int Count) GetOffsetForVaddr(nint vaddr)
    {
        ThrowIfDisposed();
        var arg = new ioctl_gntdev_get_offset_for_vaddr { vaddr = (ulong)vaddr };
        Ioctl("GET_OFFSET_FOR_VADDR", IOCTL_GNTDEV_GET_OFFSET_FOR_VADDR, &arg);
        return (arg.offset, (int)arg.count);
    }

    /// <summary>GET_OFFSET_FOR_VADDR for the first page of a live <paramref name="mapping"/> of this device.</summary>
    public (ulong Offset, int Count) GetOffsetForVaddr(GrantMapping mapping)
    {
        ArgumentNullException.ThrowIfNull(mapping);
        if (mapping.Pages is not MappedPages pages)
        {
            throw new ArgumentException("The mapping was not made by a LinuxGrantDevice.", nameof(mapping));
        }

        return GetOffsetForVaddr(pages.Address);
    }

    /// <summary>
    /// SET_MAX_GRANTS: limits how many grants this instance may map at once. The kernel requires this to
    /// be the first ioctl on the instance (recent kernels accept and ignore it).
    /// </summary>
    public void SetMaxGrants(uint count)
    {
        ThrowIfDisposed();
        var arg = new ioctl_gntdev_set_max_grants { count = count };
        Ioctl("SET_MAX_GRANTS", IOCTL_GNTDEV_SET_MAX_GRANTS, &arg);
    }

    /// <summary>
    /// SET_UNMAP_NOTIFY: when the page holding byte <paramref name="index"/> (an mmap offset of this
    /// device) is unmapped, clear that byte and/or signal <paramref name="eventChannelPort"/>. One
    /// notification per page; a new call replaces the previous one.
    /// </summary>
    public void SetUnmapNotify(ulong index, UnmapNotifyActions action, uint eventChannelPort = 0)
    {
        ThrowIfDisposed();
        var arg = new ioctl_gntdev_unmap_notify { index = index, action = (uint)action, event_channel_port = eventChannelPort };
        Ioctl("SET_UNMAP_NOTIFY", IOCTL_GNTDEV_SET_UNMAP_NOTIFY, &arg);
    }

    /// <summary>
    /// Unmaps every live mapping, then closes the device: the kernel releases the imports and the map
    /// table; exports live on until their dma-bufs are released.
    /// </summary>
    public void Dispose()
    {
        GrantMapping[] live;
        PeerGrantMapping[] peers;
        lock (_gate)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            live = [.. _maps.Values];
            _maps.Clear();
            peers = [.. _peerMaps];
            _peerMaps.Clear();
        }

        foreach (PeerGrantMapping peer in peers)
        {
            peer.File.Dispose(); // the instance's close unmaps its map once no receiver maps it any more
        }

        foreach (GrantMapping mapping in live)
        {
            // The mmap holds a reference on the device file; it must go for the close to release anything.
            ((MappedPages)mapping.Pages).Unmap();
        }

        _placeholder?.Dispose();
        _fd.Dispose();
    }

    // ---- Local validation (what the kernel would refuse with EINVAL) ------------------------------

    internal static void ValidateMap(DomainId domain, int count, int pageLimit)
    {
        const string op = "MAP_GRANT_REF";
        ValidateCount(op, count, pageLimit);
        domain.EnsureReal(op);
    }

    internal static void ValidateExport(DmaBufFlags flags, DomainId domain, int count, int pageLimit)
    {
        const string op = "DMABUF_EXP_FROM_REFS";
        ValidateCount(op, count, pageLimit);
        const DmaBufFlags both = DmaBufFlags.WriteCombine | DmaBufFlags.Coherent;
        if ((flags & both) == both)
        {
            throw Fail(op, Errno.EINVAL, "GNTDEV_DMA_FLAG_WC and GNTDEV_DMA_FLAG_COHERENT are mutually exclusive");
        }

        domain.EnsureReal(op);
    }

    internal static void ValidateImport(DomainId domain, int count, int pageLimit)
    {
        const string op = "DMABUF_IMP_TO_REFS";
        ValidateCount(op, count, pageLimit);
        domain.EnsureReal(op);
    }

    private static void ValidateCount(string op, int count, int pageLimit)
    {
        if (count <= 0 || count > pageLimit)
        {
            throw Fail(op, Errno.EINVAL, $"page count {count} is outside 1..{pageLimit} (the gntdev page limit)");
        }
    }

    /// <summary>The gntdev module's page limit from <paramref name="path"/>, or <see cref="DefaultPageLimit"/>.</summary>
    internal static int ReadPageLimit(string path)
    {
        try
        {
            string text = File.ReadAllText(path).Trim();
            if (long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out long limit) && limit > 0)
            {
                return (int)Math.Min(limit, int.MaxValue);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Module not loaded, parameter not exported, or not readable: use the default.
        }

        return DefaultPageLimit;
    }

    // ---- The interop boundary ---------------------------------------------------------------------
    // Raw calls report failure as -1 (MAP_FAILED for mmap) plus errno; LinuxErrno is the one place errno
    // is read and turned into the exception. The loops below are the only places EINTR is retried.

    private static Errno LastErrno() => LinuxErrno.Last();

    private static bool Failed(int rc, out Errno errno) => LinuxErrno.Failed(rc, out errno);

    /// <summary>The one conversion of an errno into <see cref="GntdevException"/> (see <see cref="LinuxErrno.Fail"/>).</summary>
    internal static GntdevException Fail(string operation, Errno errno, string? detail = null) => LinuxErrno.Fail(operation, errno, detail);

    private static GrantDeviceUnavailableException Unavailable(string path, Errno errno)
    {
        string reason = errno switch
        {
            Errno.ENOENT or ENOTDIR => $"{path} does not exist",
            Errno.EACCES or Errno.EPERM => $"no permission to open {path} read-write (run as root, or give this user access to the node)",
            Errno.ENODEV or ENXIO => $"{path} has no driver behind it",
            _ => $"cannot open {path} ({Marshal.GetPInvokeErrorMessage((int)errno)})",
        };
        return new GrantDeviceUnavailableException(
            path,
            errno,
            $"{reason}. The grant device needs a Linux kernel built with CONFIG_XEN_GNTDEV and CONFIG_XEN_GNTDEV_DMABUF " +
            "(module xen_gntdev loaded), running in a Xen domain. Without Xen, use the simulator: --device simulator.");
    }

    private void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(_disposed, this);

    private void Ioctl(string operation, uint request, void* arg)
    {
        Errno errno = TryIoctl(request, arg);
        if (errno != Errno.None)
        {
            throw Fail(operation, errno);
        }
    }

    /// <summary>ioctl(2) on the device, EINTR retried unless told otherwise; returns the errno or None.</summary>
    private Errno TryIoctl(uint request, void* arg, bool retryInterrupted = true)
    {
        using FdSafeHandle.Lease fd = _fd.Borrow();
        LinuxFiles.Ioctl(fd.Fd, request, arg, out Errno errno, retryInterrupted);
        return errno;
    }

    private void* Mmap(nuint length, int prot, int flags, ulong offset, out Errno errno)
    {
        using FdSafeHandle.Lease fd = _fd.Borrow();
        void* address = LibC.mmap(null, (size_t)(ulong)length, prot, flags, fd.Fd, unchecked((long)offset));
        errno = address == LibC.MAP_FAILED ? LastErrno() : Errno.None;
        return address;
    }

    /// <summary>MAP_GRANT_REF on <paramref name="instance"/>: reserves an mmap range for the refs; returns its offset.</summary>
    private static ulong MapTable(FdSafeHandle instance, DomainId domain, ReadOnlySpan<uint> refs)
    {
        var arg = (ioctl_gntdev_map_grant_ref*)NativeMemory.AllocZeroed(
            SizeWithTail(sizeof(ioctl_gntdev_map_grant_ref), sizeof(ioctl_gntdev_grant_ref), refs.Length));
        try
        {
            arg->count = (uint)refs.Length;
            ioctl_gntdev_grant_ref* tail = &arg->refs;
            for (int i = 0; i < refs.Length; i++)
            {
                tail[i].domid = domain.Value;
                tail[i].@ref = refs[i];
            }

            using FdSafeHandle.Lease fd = instance.Borrow();
            LinuxFiles.Ioctl(fd.Fd, IOCTL_GNTDEV_MAP_GRANT_REF, arg, out Errno errno, retryInterrupted: true);
            if (errno != Errno.None)
            {
                throw Fail("MAP_GRANT_REF", errno);
            }

            return arg->index;
        }
        finally
        {
            NativeMemory.Free(arg);
        }
    }

    /// <summary>UNMAP_GRANT_REF for a range that is not (or no longer) mmapped; errors are ignored.</summary>
    private void UnmapTable(ulong index, int count)
    {
        var arg = new ioctl_gntdev_unmap_grant_ref { index = index, count = (uint)count };
        TryIoctl(IOCTL_GNTDEV_UNMAP_GRANT_REF, &arg);
    }

    /// <summary>The pages of one MAP_GRANT_REF, as mmapped into this process.</summary>
    private sealed class MappedPages(nint address, int pageCount, bool readOnly) : PageView(readOnly)
    {
        private nint _address = address;

        public override int PageCount { get; } = pageCount;

        public nint Address
        {
            get
            {
                nint address = Volatile.Read(ref _address);
                ObjectDisposedException.ThrowIf(address == 0, this);
                return address;
            }
        }

        protected override Span<byte> Bytes(int index)
        {
            ArgumentOutOfRangeException.ThrowIfNegative(index);
            ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, PageCount);
            return new Span<byte>((byte*)Address + ((nint)index * PageSize), PageSize);
        }

        /// <summary>munmap, once; returns the errno (None on success or when already unmapped).</summary>
        public Errno Unmap()
        {
            nint address = Interlocked.Exchange(ref _address, 0);
            if (address == 0)
            {
                return Errno.None;
            }

            return LibC.munmap((void*)address, (size_t)((ulong)PageCount * PageSize)) == 0 ? Errno.None : LastErrno();
        }
    }
}
