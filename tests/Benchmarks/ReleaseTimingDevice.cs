using System.Collections.Concurrent;
using System.Diagnostics;
using BufferActors.Native;

namespace BufferActors.Benchmarks;

/// <summary>
/// A grant device that forwards every call and notes when each <see cref="CloseFd"/> returned. On the
/// simulator, closing an export's last reference releases the buffer inside that call, so this is the
/// moment the device released it: the start of the release-to-waiter notification the bench times.
/// </summary>
internal sealed class ReleaseTimingDevice(IGrantDevice inner) : IGrantDevice
{
    private readonly ConcurrentDictionary<int, long> _closedAt = new();

    /// <summary>Whether closes are noted (off while the lifecycles are created, so the notes cost no memory there).</summary>
    public bool Recording { get; set; }

    /// <summary>The <see cref="Stopwatch"/> timestamp at which the close of <paramref name="fd"/> returned.</summary>
    public long ClosedAt(int fd) => _closedAt.TryGetValue(fd, out long at)
        ? at
        : throw new InvalidOperationException($"fd {fd} was not closed while recording");

    /// <summary>Forgets every note.</summary>
    public void Clear() => _closedAt.Clear();

    public int PageLimit => inner.PageLimit;

    public GrantMapping MapGrantRefs(DomainId domain, ReadOnlySpan<uint> refs, bool readOnly = false) => inner.MapGrantRefs(domain, refs, readOnly);

    public void UnmapGrantRefs(GrantMapping mapping) => inner.UnmapGrantRefs(mapping);

    public ExportedDmaBuf ExportDmaBuf(DmaBufFlags flags, DomainId domain, ReadOnlySpan<uint> refs) => inner.ExportDmaBuf(flags, domain, refs);

    public WaitReleasedResult WaitReleased(int fd, uint timeoutMs) => inner.WaitReleased(fd, timeoutMs);

    public ImportedDmaBuf ImportDmaBuf(int fd, int count, DomainId domain) => inner.ImportDmaBuf(fd, count, domain);

    public void ReleaseImport(int fd) => inner.ReleaseImport(fd);

    public IReadOnlyList<uint>? PendingEndAccess(ReadOnlySpan<uint> refs) => inner.PendingEndAccess(refs);

    public void CloseFd(int fd)
    {
        inner.CloseFd(fd);
        if (Recording) _closedAt[fd] = Stopwatch.GetTimestamp();
    }

    public int DuplicateFd(int fd) => inner.DuplicateFd(fd);

    public Microsoft.Win32.SafeHandles.SafeFileHandle ShareDmaBuf(int fd) => inner.ShareDmaBuf(fd);

    public int AdoptDmaBuf(System.Runtime.InteropServices.SafeHandle descriptor) => inner.AdoptDmaBuf(descriptor);

    // The export's lifecycle gives up its reference here (the number stays taken by the placeholder).
    public void ReplaceWithPlaceholder(int fd)
    {
        inner.ReplaceWithPlaceholder(fd);
        if (Recording) _closedAt[fd] = Stopwatch.GetTimestamp();
    }

    public void Dispose() => inner.Dispose();
}
