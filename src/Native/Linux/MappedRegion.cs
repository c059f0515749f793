using Tmds.Linux;
using static Tmds.Linux.LibC;

namespace BufferActors.Native.Linux;

/// <summary>A MAP_SHARED mapping made by <see cref="SharedMemory.MapShared"/>; slices throw once it is unmapped.</summary>
internal sealed unsafe class MappedRegion(nint address, long length) : IDisposable
{
    private nint _address = address;

    /// <summary>Mapped length in bytes.</summary>
    public long Length { get; } = length;

    /// <summary>
    /// <paramref name="count"/> bytes at <paramref name="offset"/>. Throws <see cref="ObjectDisposedException"/>
    /// after <see cref="Dispose"/>, so a page view of an unmapped grant map fails instead of faulting.
    /// </summary>
    public Span<byte> Slice(long offset, int count)
    {
        nint address = Volatile.Read(ref _address);
        ObjectDisposedException.ThrowIf(address == 0, this);
        if (offset < 0 || count < 0 || offset + count > Length) throw new ArgumentOutOfRangeException(nameof(offset));
        return new Span<byte>((byte*)address + offset, count);
    }

    /// <summary>munmap, once.</summary>
    public void Dispose()
    {
        nint address = Interlocked.Exchange(ref _address, 0);
        if (address != 0) munmap((void*)address, (size_t)(ulong)Length);
    }
}
