using BufferActors.Native;
using BufferActors.Native.Linux;

namespace BufferActors.Conformance;

/// <summary>A map made for another process as that process sees it: its file mmapped MAP_SHARED at the map's offset.</summary>
internal sealed class PeerMappingView : PageView, IDisposable
{
    private readonly MappedRegion _region;

    private PeerMappingView(MappedRegion region, int pages, bool writable) : base(readOnly: !writable)
    {
        _region = region;
        PageCount = pages;
    }

    /// <inheritdoc />
    public override int PageCount { get; }

    /// <summary>mmaps <paramref name="mapping"/>'s pages as its receiver does; a refused mmap throws <see cref="NativeCallException"/>.</summary>
    public static PeerMappingView Map(PeerGrantMapping mapping, bool writable)
    {
        bool added = false;
        mapping.File.DangerousAddRef(ref added);
        try
        {
            var region = SharedMemory.MapShared((int)mapping.File.DangerousGetHandle(), (long)mapping.Offset, (long)mapping.PageCount * PageSize, writable);
            return new PeerMappingView(region, mapping.PageCount, writable);
        }
        finally
        {
            if (added) mapping.File.DangerousRelease();
        }
    }

    /// <inheritdoc />
    protected override Span<byte> Bytes(int index) => _region.Slice((long)index * PageSize, PageSize);

    /// <summary>munmap.</summary>
    public void Dispose() => _region.Dispose();
}
