namespace BufferActors.Native;

/// <summary>Backing-storage flags of DMABUF_EXP_FROM_REFS (<c>GNTDEV_DMA_FLAG_*</c>).</summary>
/// <remarks>
/// With either DMA flag the backing pages come from a DMA-able allocation whose frames are handed
/// back to the hypervisor, so the backend domain's memory reservation drops by the page count for
/// as long as the buffer lives. The two flags are mutually exclusive.
/// </remarks>
[Flags]
public enum DmaBufFlags : uint
{
    /// <summary>Ordinary pages.</summary>
    None = 0,
    /// <summary>GNTDEV_DMA_FLAG_WC: write-combined DMA-able buffer.</summary>
    WriteCombine = 1,
    /// <summary>GNTDEV_DMA_FLAG_COHERENT: coherent DMA-able buffer.</summary>
    Coherent = 2,
}

/// <summary>Outcome of DMABUF_EXP_WAIT_RELEASED.</summary>
public enum WaitReleasedResult
{
    /// <summary>The buffer was released within the timeout (ioctl returned 0).</summary>
    Released,
    /// <summary>The buffer is still alive after the timeout (ETIMEDOUT).</summary>
    TimedOut,
    /// <summary>The fd is not an export of this instance (ENOENT): it was never exported here or is already released.</summary>
    NotFound,
}

/// <summary>A dma-buf created by DMABUF_EXP_FROM_REFS.</summary>
/// <param name="Fd">The caller's file descriptor for the dma-buf (O_RDWR | O_CLOEXEC). Not an identity: fd numbers are reused.</param>
/// <param name="Domain">The domain that granted the pages.</param>
/// <param name="Refs">The grant references the buffer maps, in page order.</param>
/// <param name="Flags">The backing-storage flags.</param>
public sealed record ExportedDmaBuf(int Fd, DomainId Domain, IReadOnlyList<uint> Refs, DmaBufFlags Flags)
{
    /// <summary>Number of 4 KiB pages.</summary>
    public int PageCount => Refs.Count;
}

/// <summary>A dma-buf imported by DMABUF_IMP_TO_REFS and granted page by page to a domain.</summary>
/// <param name="Fd">The fd number the import is keyed by (the one passed to the ioctl).</param>
/// <param name="Domain">The domain the pages were granted to.</param>
/// <param name="Refs">The grant references, in page order, to hand to the frontend.</param>
public sealed record ImportedDmaBuf(int Fd, DomainId Domain, IReadOnlyList<uint> Refs)
{
    /// <summary>Number of 4 KiB pages.</summary>
    public int PageCount => Refs.Count;
}
