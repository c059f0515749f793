using BufferActors.Native.Linux;

namespace BufferActors.Native.Simulation;

/// <summary>
/// A domain's pseudo-physical memory: one sparse memfd mapped shared into this process.
/// Frames are page indexes into it. Untouched pages cost nothing (the memfd is sparse), and
/// the memfd can be passed to another process with SCM_RIGHTS so its mappings alias the same bytes.
/// </summary>
public sealed class DomainMemory : IDisposable
{
    private MappedRegion? _region;

    /// <summary>Creates <paramref name="pages"/> pages of zeroed, sparse memory.</summary>
    /// <exception cref="NativeCallException">The memfd cannot be created, sized or mapped.</exception>
    public DomainMemory(string name, int pages)
    {
        if (pages <= 0) throw new ArgumentOutOfRangeException(nameof(pages));
        Pages = pages;
        long length = (long)pages * PageView.PageSize;
        Fd = SharedMemory.CreateMemfd(name, length);
        try
        {
            _region = SharedMemory.MapShared(Fd, 0, length, writable: true);
        }
        catch (NativeCallException)
        {
            LinuxFiles.Close(Fd);
            throw;
        }
    }

    /// <summary>The memfd holding the pages (for SCM_RIGHTS hand-over).</summary>
    public int Fd { get; private set; }

    /// <summary>Number of pages.</summary>
    public int Pages { get; }

    /// <summary>The bytes of frame <paramref name="frame"/>.</summary>
    public Span<byte> Page(uint frame)
    {
        var region = _region ?? throw new ObjectDisposedException(nameof(DomainMemory));
        if (frame >= (uint)Pages) throw new ArgumentOutOfRangeException(nameof(frame), $"frame {frame} outside {Pages} pages");
        return region.Slice((long)frame * PageView.PageSize, PageView.PageSize);
    }

    /// <summary>Unmaps and closes the memfd.</summary>
    public void Dispose()
    {
        if (_region is not { } region) return;
        _region = null;
        region.Dispose();
        LinuxFiles.Close(Fd);
        Fd = -1;
    }
}
