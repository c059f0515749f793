// C declarations of <xen/gntalloc.h> (the Linux UAPI of /dev/xen/gntalloc). Names are the C names,
// kept exactly; tests/BufferActors.Tests/Linux/GntdevLayoutTests.cs checks every number, size and
// offset against the installed header with a C compiler.
using System.Runtime.InteropServices;
using static BufferActors.Native.Linux.GntdevUapi;

#pragma warning disable CS8981 // C names are lower case on purpose.
#pragma warning disable IDE1006 // Naming rule violation: C names kept exactly.

namespace BufferActors.Native.Linux;

/// <summary>The constants of <c>&lt;xen/gntalloc.h&gt;</c>.</summary>
internal static unsafe class GntallocUapi
{
    public static readonly uint IOCTL_GNTALLOC_ALLOC_GREF =
        _IOC(_IOC_NONE, 'G', 5, sizeof(ioctl_gntalloc_alloc_gref));
    public static readonly uint IOCTL_GNTALLOC_DEALLOC_GREF =
        _IOC(_IOC_NONE, 'G', 6, sizeof(ioctl_gntalloc_dealloc_gref));
    public static readonly uint IOCTL_GNTALLOC_SET_UNMAP_NOTIFY =
        _IOC(_IOC_NONE, 'G', 7, sizeof(ioctl_gntalloc_unmap_notify));

    /// <summary>The grantee may map the pages writable.</summary>
    public const ushort GNTALLOC_FLAG_WRITABLE = 1;
}

/// <summary><c>struct ioctl_gntalloc_alloc_gref</c> (IOCTL_GNTALLOC_ALLOC_GREF).</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct ioctl_gntalloc_alloc_gref
{
    /// <summary>IN: the ID of the domain to be given access to the grants.</summary>
    public ushort domid;
    /// <summary>IN: GNTALLOC_FLAG_* for this mapping.</summary>
    public ushort flags;
    /// <summary>IN: number of pages to map.</summary>
    public uint count;
    /// <summary>OUT: the offset to be used on a subsequent call to mmap().</summary>
    public ulong index;
    /// <summary>OUT variable: first of <see cref="count"/> grant references (<c>gref_ids[1]</c> in C).</summary>
    public fixed uint gref_ids[1];
}

/// <summary><c>struct ioctl_gntalloc_dealloc_gref</c> (IOCTL_GNTALLOC_DEALLOC_GREF).</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct ioctl_gntalloc_dealloc_gref
{
    /// <summary>IN: the offset returned in the map operation.</summary>
    public ulong index;
    /// <summary>IN: number of references to unmap.</summary>
    public uint count;
}

/// <summary><c>struct ioctl_gntalloc_unmap_notify</c> (IOCTL_GNTALLOC_SET_UNMAP_NOTIFY).</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct ioctl_gntalloc_unmap_notify
{
    /// <summary>IN: offset in the file (as used in mmap) of a byte within the page.</summary>
    public ulong index;
    /// <summary>IN: UNMAP_NOTIFY_* action(s) to take on unmap.</summary>
    public uint action;
    /// <summary>IN: event channel to notify.</summary>
    public uint event_channel_port;
}
