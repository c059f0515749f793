using BufferActors.Native;

namespace BufferActors.Tests.Actors;

/// <summary>A device that counts the calls reaching it, so a test can show that a refused request reached nothing.</summary>
internal sealed class CountingDevice(IGrantDevice inner) : IGrantDevice
{
    private int _calls;

    /// <summary>Calls made so far (every method but <see cref="PageLimit"/>).</summary>
    public int Calls => Volatile.Read(ref _calls);

    private T Count<T>(Func<T> call)
    {
        Interlocked.Increment(ref _calls);
        return call();
    }

    private void Count(Action call)
    {
        Interlocked.Increment(ref _calls);
        call();
    }

    public int PageLimit => inner.PageLimit;
    public GrantMapping MapGrantRefs(DomainId domain, ReadOnlySpan<uint> refs, bool readOnly = false)
    {
        var copy = refs.ToArray();
        return Count(() => inner.MapGrantRefs(domain, copy, readOnly));
    }
    public void UnmapGrantRefs(GrantMapping mapping) => Count(() => inner.UnmapGrantRefs(mapping));
    public ExportedDmaBuf ExportDmaBuf(DmaBufFlags flags, DomainId domain, ReadOnlySpan<uint> refs)
    {
        var copy = refs.ToArray();
        return Count(() => inner.ExportDmaBuf(flags, domain, copy));
    }
    public WaitReleasedResult WaitReleased(int fd, uint timeoutMs) => Count(() => inner.WaitReleased(fd, timeoutMs));
    public ImportedDmaBuf ImportDmaBuf(int fd, int count, DomainId domain) => Count(() => inner.ImportDmaBuf(fd, count, domain));
    public void ReleaseImport(int fd) => Count(() => inner.ReleaseImport(fd));
    public IReadOnlyList<uint>? PendingEndAccess(ReadOnlySpan<uint> refs) => inner.PendingEndAccess(refs);
    public void CloseFd(int fd) => Count(() => inner.CloseFd(fd));
    public int DuplicateFd(int fd) => Count(() => inner.DuplicateFd(fd));
    public void ReplaceWithPlaceholder(int fd) => Count(() => inner.ReplaceWithPlaceholder(fd));
    /// <summary>When set, every <see cref="ShareDmaBuf"/> fails as a process out of descriptors would (EMFILE).</summary>
    public bool RefuseShares { get; set; }

    public Microsoft.Win32.SafeHandles.SafeFileHandle ShareDmaBuf(int fd) =>
        Count(() => RefuseShares ? throw new GntdevException("share", (Errno)24, "too many open files") : inner.ShareDmaBuf(fd));
    public int AdoptDmaBuf(System.Runtime.InteropServices.SafeHandle descriptor) => Count(() => inner.AdoptDmaBuf(descriptor));
    public void Dispose() => inner.Dispose();
}
