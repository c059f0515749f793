using BufferActors.Native;

namespace BufferActors.Tests.Journaled;

/// <summary>
/// A device an old host loses at once when fenced: every later call does nothing, as if the host's
/// actors had died without running any cleanup while the device instance itself lived on.
/// </summary>
internal sealed class FencedDevice(IGrantDevice inner) : IGrantDevice
{
    private volatile bool _fenced;

    public void Fence() => _fenced = true;

    public int PageLimit => inner.PageLimit;
    public GrantMapping MapGrantRefs(DomainId domain, ReadOnlySpan<uint> refs, bool readOnly = false) => inner.MapGrantRefs(domain, refs, readOnly);
    public void UnmapGrantRefs(GrantMapping mapping) { if (!_fenced) inner.UnmapGrantRefs(mapping); }
    public ExportedDmaBuf ExportDmaBuf(DmaBufFlags flags, DomainId domain, ReadOnlySpan<uint> refs) => inner.ExportDmaBuf(flags, domain, refs);
    public WaitReleasedResult WaitReleased(int fd, uint timeoutMs) => _fenced ? WaitReleasedResult.TimedOut : inner.WaitReleased(fd, timeoutMs);
    public ImportedDmaBuf ImportDmaBuf(int fd, int count, DomainId domain) => inner.ImportDmaBuf(fd, count, domain);
    public void ReleaseImport(int fd) { if (!_fenced) inner.ReleaseImport(fd); }
    public IReadOnlyList<uint>? PendingEndAccess(ReadOnlySpan<uint> refs) => inner.PendingEndAccess(refs);
    public void CloseFd(int fd) { if (!_fenced) inner.CloseFd(fd); }
    public int DuplicateFd(int fd) => _fenced ? throw new GntdevException("dup", Errno.EBADF, "fenced") : inner.DuplicateFd(fd);
    public void ReplaceWithPlaceholder(int fd) { if (!_fenced) inner.ReplaceWithPlaceholder(fd); }
    public Microsoft.Win32.SafeHandles.SafeFileHandle ShareDmaBuf(int fd) => _fenced ? throw new GntdevException("share", Errno.EBADF, "fenced") : inner.ShareDmaBuf(fd);
    public int AdoptDmaBuf(System.Runtime.InteropServices.SafeHandle descriptor) => _fenced ? throw new GntdevException("adopt", Errno.EBADF, "fenced") : inner.AdoptDmaBuf(descriptor);
    public void Dispose() { }
}
