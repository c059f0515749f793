namespace BufferActors.Native;

/// <summary>
/// The granting side of shared memory: one open instance of <c>/dev/xen/gntalloc</c>, or of its
/// simulation. A Linux frontend domain shares pages with a backend through it; a backend domain can
/// also grant pages to itself with it, which is how the real-kernel lane tests the gntdev side
/// without a second domain.
/// </summary>
/// <remarks>
/// <para>Every failing call throws <see cref="GntdevException"/> with the kernel's errno and changes
/// nothing. The number of grants all instances hold together is limited by the module's
/// <c>limit</c> parameter (<see cref="Limit"/>, 1024 by default): an allocation beyond it is refused
/// with ENOSPC, as is one that finds the domain's grant table full.</para>
/// <para>A deallocated grant whose page the grantee still maps cannot be ended at once: the kernel
/// parks it on the grant table's deferred list, keeps the page, and ends it after the grantee unmaps.
/// <see cref="IDisposable.Dispose"/> closes the instance, which deallocates every allocation it holds.</para>
/// </remarks>
public interface IGrantAllocator : IDisposable
{
    /// <summary>The grants all instances together may hold (gntalloc's <c>limit</c> module parameter).</summary>
    int Limit { get; }

    /// <summary>
    /// IOCTL_GNTALLOC_ALLOC_GREF then mmap: allocates <paramref name="count"/> zeroed pages, grants each
    /// to <paramref name="grantee"/> (read-only unless <paramref name="writable"/>) and maps them into
    /// this process. ENOSPC beyond <see cref="Limit"/> or when the grant table is full; EINVAL for a
    /// reserved domain or a count below 1.
    /// </summary>
    GrantAllocation Allocate(DomainId grantee, int count, bool writable = true);

    /// <summary>
    /// munmap then IOCTL_GNTALLOC_DEALLOC_GREF: ends the grants of <paramref name="allocation"/> (deferred
    /// while the grantee maps them) and frees its pages. EINVAL when it is not a live allocation of this instance.
    /// </summary>
    void Deallocate(GrantAllocation allocation);

    /// <summary>
    /// IOCTL_GNTALLOC_SET_UNMAP_NOTIFY: when the grant of page <paramref name="byteOffset"/> / 4096 of
    /// <paramref name="allocation"/> is deallocated, clear the byte at that offset (and/or signal the
    /// event channel), so that a grantee still mapping it sees the granter go. ENOENT when the page is
    /// not live here.
    /// </summary>
    void SetUnmapNotify(GrantAllocation allocation, int byteOffset, UnmapNotifyActions action, uint eventChannelPort = 0);
}

/// <summary>Pages granted by <see cref="IGrantAllocator.Allocate"/>.</summary>
public sealed class GrantAllocation
{
    /// <summary>Creates the handle; only allocator implementations do this.</summary>
    public GrantAllocation(ulong index, DomainId grantee, IReadOnlyList<uint> refs, bool writable, PageView pages)
    {
        Index = index;
        Grantee = grantee;
        Refs = refs;
        Writable = writable;
        Pages = pages;
    }

    /// <summary>The mmap offset gntalloc assigned (the <c>index</c> of IOCTL_GNTALLOC_ALLOC_GREF).</summary>
    public ulong Index { get; }

    /// <summary>The domain the pages are granted to.</summary>
    public DomainId Grantee { get; }

    /// <summary>The grant references, in page order.</summary>
    public IReadOnlyList<uint> Refs { get; }

    /// <summary>False when the grantee may only map the pages read-only.</summary>
    public bool Writable { get; }

    /// <summary>The granter's own view of the pages. Invalid once deallocated.</summary>
    public PageView Pages { get; }

    /// <summary>Number of pages.</summary>
    public int PageCount => Refs.Count;
}
