namespace BufferActors.Native.Simulation;

/// <summary>
/// A point inside a simulated operation where a <see cref="FaultPlan"/> can inject a failure. What each stands for
/// in the kernel, its errno and the invariant that catches a mishandled one: docs/fault-model.md.
/// </summary>
public enum FaultSite
{
    /// <summary>Opening a grant device instance.</summary>
    OpenDevice,
    /// <summary>Entry of MAP_GRANT_REF.</summary>
    MapGrantRefs,
    /// <summary>Mapping one page of a map (MAP_GRANT_REF or an export): fails with a grant status.</summary>
    MapPage,
    /// <summary>Entry of UNMAP_GRANT_REF.</summary>
    UnmapGrantRefs,
    /// <summary>Entry of DMABUF_EXP_FROM_REFS.</summary>
    ExportFromRefs,
    /// <summary>Lowering the memory reservation for a DMA-backed export.</summary>
    ReservationDecrease,
    /// <summary>Creating the dma-buf and its fd, after every page mapped.</summary>
    DmaBufCreate,
    /// <summary>Entry of DMABUF_EXP_WAIT_RELEASED.</summary>
    WaitReleased,
    /// <summary>Entry of DMABUF_IMP_TO_REFS.</summary>
    ImportToRefs,
    /// <summary>Attaching to the imported buffer.</summary>
    ImportAttach,
    /// <summary>Mapping the import's attachment.</summary>
    ImportMapAttachment,
    /// <summary>Allocating the import's grant references.</summary>
    ImportAllocateRefs,
    /// <summary>Granting one page of an import.</summary>
    ImportGrantPage,
    /// <summary>Copying the refs back to the caller (EFAULT releases the import at once).</summary>
    ImportCopyOut,
    /// <summary>Entry of DMABUF_IMP_RELEASE.</summary>
    ImportRelease,
    /// <summary>Attaching a device to a dma-buf.</summary>
    DeviceAttach,
    /// <summary>Mapping a device attachment.</summary>
    DeviceMap,
}

/// <summary>A failure the plan injected.</summary>
/// <param name="Site">Where.</param>
/// <param name="Errno">The errno the operation fails with.</param>
/// <param name="Status">For <see cref="FaultSite.MapPage"/>: the grant status of the page.</param>
/// <param name="Page">For per-page sites: the page index.</param>
public sealed record InjectedFault(FaultSite Site, Errno Errno, GrantStatus? Status = null, int? Page = null);
