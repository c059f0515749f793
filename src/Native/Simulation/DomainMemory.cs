using Tmds.Linux;
using static Tmds.Linux.LibC;

namespace BufferActors.Native.Simulation;

/// <summary>
/// A domain's pseudo-physical memory: one sparse memfd mapped shared into this process.
/// Frames are page indexes into it. Untouched pages cost nothing (the memfd is sparse), and
/// the memfd can be passed to another process with SCM_RIGHTS so its mappings alias the same bytes.
/// </summary>
/// <remarks>The only file of the simulator that touches raw pointers.</remarks>
public sealed unsafe class DomainMemory : IDisposable
{
    private byte* _base;

    /// <summary>Creates <paramref name="pages"/> pages of zeroed, sparse memory.</summary>
    public DomainMemory(string name, int pages)
    {
        if (pages <= 0) throw new ArgumentOutOfRangeException(nameof(pages));
        Pages = pages;
        var nameBytes = System.Text.Encoding.ASCII.GetBytes(name + "\0");
        fixed (byte* n = nameBytes)
            Fd = Check(memfd_create(n, MFD_CLOEXEC), "memfd_create");
        long length = (long)pages * PageView.PageSize;
        if (ftruncate(Fd, length) != 0)
        {
            int err = errno;
            close(Fd);
            throw new GntdevException("ftruncate", (Errno)err, $"cannot size simulated memory of {pages} pages");
        }
        void* p = mmap(null, (size_t)(ulong)length, PROT_READ | PROT_WRITE, MAP_SHARED, Fd, 0);
        if (p == MAP_FAILED)
        {
            int err = errno;
            close(Fd);
            throw new GntdevException("mmap", (Errno)err, $"cannot map simulated memory of {pages} pages");
        }
        _base = (byte*)p;
    }

    /// <summary>The memfd holding the pages (for SCM_RIGHTS hand-over).</summary>
    public int Fd { get; private set; }

    /// <summary>Number of pages.</summary>
    public int Pages { get; }

    /// <summary>The bytes of frame <paramref name="frame"/>.</summary>
    public Span<byte> Page(uint frame)
    {
        if (_base == null) throw new ObjectDisposedException(nameof(DomainMemory));
        if (frame >= (uint)Pages) throw new ArgumentOutOfRangeException(nameof(frame), $"frame {frame} outside {Pages} pages");
        return new Span<byte>(_base + (long)frame * PageView.PageSize, PageView.PageSize);
    }

    /// <summary>Unmaps and closes the memfd.</summary>
    public void Dispose()
    {
        if (_base == null) return;
        munmap(_base, (size_t)(ulong)((long)Pages * PageView.PageSize));
        close(Fd);
        _base = null;
        Fd = -1;
    }

    private static int Check(int result, string what) =>
        result >= 0 ? result : throw new GntdevException(what, (Errno)errno, "cannot create simulated memory");
}
