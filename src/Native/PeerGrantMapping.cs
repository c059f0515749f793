using Microsoft.Win32.SafeHandles;

namespace BufferActors.Native;

/// <summary>
/// A grant map made for another process (<see cref="IGrantDevice.MapGrantRefsForPeer"/>): not mapped here; the
/// process that receives <see cref="File"/> (by SCM_RIGHTS) mmaps <see cref="PageCount"/> pages of it at
/// <see cref="Offset"/>. The file holds this map only, so its receiver can reach no other map of the device.
/// </summary>
/// <remarks>
/// <see cref="File"/> belongs to the device until <see cref="IGrantDevice.UnmapPeerGrantRefs"/>; a copy sent to
/// another process is that process's to close. On Linux the file is a gntdev instance of its own whose one map
/// stays in place while the receiver keeps it mmapped, as the kernel keeps any grant map with a live mapping.
/// </remarks>
public sealed class PeerGrantMapping
{
    /// <summary>Creates the handle; only device implementations do this.</summary>
    public PeerGrantMapping(ulong index, DomainId domain, IReadOnlyList<uint> refs, bool readOnly, SafeFileHandle file, ulong offset)
    {
        Index = index;
        Domain = domain;
        Refs = refs;
        ReadOnly = readOnly;
        File = file;
        Offset = offset;
    }

    /// <summary>The device's key for this map (the MAP_GRANT_REF index on its instance).</summary>
    public ulong Index { get; }

    /// <summary>The granting domain.</summary>
    public DomainId Domain { get; }

    /// <summary>The mapped references, in page order.</summary>
    public IReadOnlyList<uint> Refs { get; }

    /// <summary>True when mapped read-only: the file cannot be mmapped writable.</summary>
    public bool ReadOnly { get; }

    /// <summary>The file the receiver mmaps.</summary>
    public SafeFileHandle File { get; }

    /// <summary>The mmap offset of the first page in <see cref="File"/>.</summary>
    public ulong Offset { get; }

    /// <summary>Number of pages.</summary>
    public int PageCount => Refs.Count;
}
