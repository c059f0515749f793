using BufferActors.Native;

namespace BufferActors.Conformance;

/// <summary>
/// What a conformance case runs against: a grant device to open, a grant allocator for the frontend side
/// (the backend domain granting to itself), a dma-buf source for imports, and the few process-level
/// operations a case needs (close, dup, size, counting descriptors). One implementation drives the real
/// Linux devices, one the simulator; a case never knows which.
/// </summary>
public abstract class ConformanceTarget : IDisposable
{
    /// <summary>"kernel" or "simulator": the key of this target's results.</summary>
    public abstract string Name { get; }

    /// <summary>The domain the backend runs in, which also grants the pages (dom0 granting to itself).</summary>
    public DomainId Self => DomainId.Dom0;

    /// <summary>Opens a new instance of the grant device in this process.</summary>
    public abstract IGrantDevice OpenGntdev();

    /// <summary>Opens a new instance of the grant allocator in this process's domain.</summary>
    public abstract IGrantAllocator OpenAllocator();

    /// <summary>gntalloc's grant limit (global to the domain's kernel).</summary>
    public abstract int AllocatorLimit { get; set; }

    /// <summary>gntdev's page limit, read by devices opened after it is set.</summary>
    public abstract int GntdevPageLimit { get; set; }

    /// <summary>A dma-buf of ordinary memory (udmabuf), its fd in this process, and a view of its pages.</summary>
    public abstract HostBuffer CreateHostBuffer(int pages);

    /// <summary>A descriptor of a file that is not a dma-buf.</summary>
    public abstract int OpenPlainFile();

    /// <summary>close(2) in this process.</summary>
    public abstract void Close(int fd);

    /// <summary>dup(2) in this process: the lowest free number for the same file.</summary>
    public abstract int Dup(int fd);

    /// <summary>dup3(2): <paramref name="number"/> becomes a descriptor for <paramref name="fd"/>'s file (how a case reuses a number exactly).</summary>
    public abstract void DupTo(int fd, int number);

    /// <summary>Unloads and reloads xen-gntalloc (its grant count and limit start again); EBUSY while an instance is open.</summary>
    public abstract void ReloadGrantAllocator();

    /// <summary>lseek(fd, 0, SEEK_END).</summary>
    public abstract long SizeOf(int fd);

    /// <summary>Open descriptors of this process that name grant-path objects (gntdev, gntalloc, dma-bufs, udmabuf, memfds, /dev/null placeholders).</summary>
    public abstract int OpenFdCount();

    /// <summary>The backend domain's memory reservation in pages.</summary>
    public abstract long ReservationPages();

    /// <summary>Lets the grant table's deferred end-access timer run a few periods.</summary>
    public abstract void LetDeferredTimerRun();

    /// <summary>gntdev SET_UNMAP_NOTIFY: clear byte <paramref name="byteOffset"/> of <paramref name="mapping"/>'s granter page on unmap.</summary>
    public abstract void SetUnmapNotify(IGrantDevice device, GrantMapping mapping, int byteOffset);

    /// <summary>
    /// mprotect(PROT_READ | PROT_WRITE) over <paramref name="mapping"/>: EACCES for a mapping that may never
    /// become writable. Nothing is written.
    /// </summary>
    public abstract void MakeWritable(GrantMapping mapping);

    /// <summary>Gives other threads time to block in a call (real time on the kernel; the simulator can tell exactly).</summary>
    public abstract void WaitUntilBlocked(IGrantDevice device, int waiters);

    /// <inheritdoc />
    public virtual void Dispose() => GC.SuppressFinalize(this);
}

/// <summary>A dma-buf made by the target's dma-buf source (udmabuf on Linux).</summary>
public abstract class HostBuffer : IDisposable
{
    /// <summary>The dma-buf's descriptor in the target's process.</summary>
    public abstract int Fd { get; }

    /// <summary>The buffer's pages as the CPU sees them.</summary>
    public abstract PageView Pages { get; }

    /// <summary>Closes the dma-buf fd (imports keep the buffer); the page view stays until <see cref="Dispose"/>.</summary>
    public abstract void CloseFd();

    /// <inheritdoc />
    public abstract void Dispose();
}
