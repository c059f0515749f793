namespace BufferActors.Native;

/// <summary>
/// One open instance of the Xen grant device (<c>/dev/xen/gntdev</c>), or of its simulation.
/// </summary>
/// <remarks>
/// <para>An instance owns its maps, its exports and its imports; the kernel keys exports and imports
/// by fd number <em>within this instance</em>, so a wait or release issued on another instance does
/// not find them.</para>
/// <para>Every failing call throws <see cref="GntdevException"/> carrying the errno (and the grant
/// status for map failures) and leaves the device exactly as it was before the call: partial work is
/// undone by the device itself (grants that did map are unmapped, reservation is restored).</para>
/// <para>Calls are thread-safe; <see cref="WaitReleased"/> blocks the calling thread for at most its
/// timeout.</para>
/// <para><see cref="IDisposable.Dispose"/> closes the instance like <c>close(2)</c> on the device file:
/// imports are released (their grants ended or deferred), maps are unmapped, and exports stay alive
/// until every holder of their dma-buf lets go, because an export holds a reference on the file.</para>
/// </remarks>
public interface IGrantDevice : IDisposable
{
    /// <summary>The page limit per buffer and per map (the gntdev module's <c>limit</c>, 64Ki by default).</summary>
    int PageLimit { get; }

    /// <summary>
    /// MAP_GRANT_REF then mmap: maps <paramref name="refs"/> granted by <paramref name="domain"/> into
    /// this process. Fails with EINVAL (and the first failing page's grant status) if any page fails
    /// to map; pages that did map are unmapped before the call returns.
    /// </summary>
    GrantMapping MapGrantRefs(DomainId domain, ReadOnlySpan<uint> refs, bool readOnly = false);

    /// <summary>munmap then UNMAP_GRANT_REF: unmaps every page of <paramref name="mapping"/>. Unmapping twice is ENOENT, as the kernel answers for an index it no longer maps.</summary>
    void UnmapGrantRefs(GrantMapping mapping);

    /// <summary>
    /// MAP_GRANT_REF for another process: maps <paramref name="refs"/> of <paramref name="domain"/> on a file that
    /// holds this map only and that this process does not mmap, for a process it is handed to (a daemon's client),
    /// which mmaps it once (<paramref name="readOnly"/>: without PROT_WRITE). The kernel maps the grants at that mmap,
    /// so a ref it cannot map fails the mmap (EINVAL) there, where the simulator refuses it here; EOPNOTSUPP from a
    /// device that cannot hand maps on.
    /// </summary>
    PeerGrantMapping MapGrantRefsForPeer(DomainId domain, ReadOnlySpan<uint> refs, bool readOnly = false) =>
        throw new GntdevException("MAP_GRANT_REF", Errno.EOPNOTSUPP, $"{GetType().Name} cannot map grants for another process");

    /// <summary>UNMAP_GRANT_REF of a map made by <see cref="MapGrantRefsForPeer"/>, and its file closed here. ENOENT the second time.</summary>
    void UnmapPeerGrantRefs(PeerGrantMapping mapping) =>
        throw new GntdevException("UNMAP_GRANT_REF", Errno.EOPNOTSUPP, $"{GetType().Name} cannot map grants for another process");

    /// <summary>
    /// DMABUF_EXP_FROM_REFS: maps <paramref name="refs"/> of <paramref name="domain"/> and wraps them in a
    /// new dma-buf whose fd is returned. Count 0 or above <see cref="PageLimit"/>, both DMA flags, or a
    /// reserved domain fail with EINVAL; a page that fails to map fails the whole call.
    /// </summary>
    ExportedDmaBuf ExportDmaBuf(DmaBufFlags flags, DomainId domain, ReadOnlySpan<uint> refs);

    /// <summary>
    /// DMABUF_EXP_WAIT_RELEASED: waits up to <paramref name="timeoutMs"/> (0 polls) for the buffer this
    /// instance exported as <paramref name="fd"/> to be released. <see cref="WaitReleasedResult.NotFound"/>
    /// means "already released or never exported here".
    /// </summary>
    WaitReleasedResult WaitReleased(int fd, uint timeoutMs);

    /// <summary>
    /// DMABUF_IMP_TO_REFS: attaches to the dma-buf <paramref name="fd"/> and grants each of its
    /// <paramref name="count"/> pages read-write to <paramref name="domain"/>. Any failure unwinds in
    /// reverse (grants ended, attachment unmapped and detached, buffer reference dropped).
    /// </summary>
    ImportedDmaBuf ImportDmaBuf(int fd, int count, DomainId domain);

    /// <summary>
    /// DMABUF_IMP_RELEASE: ends every grant of the import keyed by <paramref name="fd"/> (grants still
    /// mapped by the remote are deferred by the device, not dropped), unmaps, detaches and drops the
    /// buffer. ENOENT if there is no such import.
    /// </summary>
    void ReleaseImport(int fd);

    /// <summary>
    /// Of <paramref name="refs"/>, grant references this backend granted through an import since released, those
    /// whose end of access is still deferred: the remote domain maps them, so the grant table keeps them (and
    /// their pages) on its deferred list and retries on its own timer. Null when the device cannot tell:
    /// Linux's gntdev does not report deferrals to user space (the kernel only logs "g.e. ... still pending").
    /// A deferred ref is not reused until it ends, so a ref reported here is still the one that was released.
    /// </summary>
    IReadOnlyList<uint>? PendingEndAccess(ReadOnlySpan<uint> refs);

    /// <summary><c>close(2)</c> on a dma-buf fd this process holds (e.g. an export once handed over).</summary>
    void CloseFd(int fd);

    /// <summary>
    /// <c>fcntl(F_DUPFD_CLOEXEC)</c>: a new descriptor of this process for <paramref name="fd"/>'s file. An
    /// import keyed by its own duplicate can be released by a number no one else can reuse. EBADF if not open.
    /// </summary>
    int DuplicateFd(int fd);

    /// <summary>
    /// <c>dup3</c> of a placeholder file (<c>/dev/null</c>) onto <paramref name="fd"/>: drops this process's
    /// reference to the file behind the number in one step, while the number stays taken, so no later export
    /// or import can be given it while its owner still asks the kernel about the old object by it. Close the
    /// placeholder with <see cref="CloseFd"/>. Replacing a placeholder again is a no-op. EBADF if not open.
    /// </summary>
    void ReplaceWithPlaceholder(int fd);

    /// <summary>
    /// A reference to the dma-buf behind <paramref name="fd"/> as a real descriptor of this process, to hand to
    /// another process (SCM_RIGHTS): the buffer is not released while it, or any copy the receiver makes of it, is
    /// open. On Linux a duplicate of the dma-buf's descriptor; on the simulator a descriptor whose last close lets go
    /// of the simulated buffer. EBADF if not open, EINVAL if not a dma-buf.
    /// </summary>
    Microsoft.Win32.SafeHandles.SafeFileHandle ShareDmaBuf(int fd);

    /// <summary>
    /// A descriptor number of this device's process for the dma-buf behind <paramref name="descriptor"/>, which
    /// another process handed in (for <see cref="ImportDmaBuf"/>); close it with <see cref="CloseFd"/>. EINVAL if
    /// the descriptor is not a dma-buf this device can use.
    /// </summary>
    int AdoptDmaBuf(System.Runtime.InteropServices.SafeHandle descriptor);
}
