// C declarations of <xen/gntdev.h> (the Linux UAPI of /dev/xen/gntdev) and of the _IOC encoding of
// <asm-generic/ioctl.h>. Names are the C names, kept exactly, so a line here can be checked against
// the header by eye; tests/BufferActors.Tests/Linux/GntdevLayoutTests.cs checks every number, size and
// offset against the installed header with a C compiler.
//
// Structs that end in a variable array (`refs[1]` in C) declare exactly one element, as C does: their
// size is the size WITH one element and the remaining count - 1 elements follow in the same allocation
// (see GntdevUapi.SizeWithTail).
using System.Runtime.InteropServices;

#pragma warning disable CS8981 // C names are lower case on purpose.
#pragma warning disable IDE1006 // Naming rule violation: C names kept exactly.

namespace BufferActors.Native.Linux;

/// <summary>The constants of <c>&lt;xen/gntdev.h&gt;</c> and the <c>_IOC</c> encoding they are built with.</summary>
internal static unsafe class GntdevUapi
{
    // <asm-generic/ioctl.h>. Tmds.LibC ships native code for linux-x64, linux-arm and linux-arm64 only,
    // all of which use the generic encoding (powerpc, mips and sparc differ: 13 size bits, _IOC_NONE = 1).
    public const int _IOC_NRBITS = 8;
    public const int _IOC_TYPEBITS = 8;
    public const int _IOC_SIZEBITS = 14;
    public const int _IOC_DIRBITS = 2;

    public const int _IOC_NRSHIFT = 0;
    public const int _IOC_TYPESHIFT = _IOC_NRSHIFT + _IOC_NRBITS;
    public const int _IOC_SIZESHIFT = _IOC_TYPESHIFT + _IOC_TYPEBITS;
    public const int _IOC_DIRSHIFT = _IOC_SIZESHIFT + _IOC_SIZEBITS;

    public const uint _IOC_NONE = 0;

    /// <summary>The <c>_IOC(dir, type, nr, size)</c> macro.</summary>
    public static uint _IOC(uint dir, char type, uint nr, int size)
    {
        if ((uint)size >= 1u << _IOC_SIZEBITS)
        {
            throw new ArgumentOutOfRangeException(nameof(size), size, "does not fit the ioctl size field");
        }

        return (dir << _IOC_DIRSHIFT) | ((uint)type << _IOC_TYPESHIFT) | (nr << _IOC_NRSHIFT) | ((uint)size << _IOC_SIZESHIFT);
    }

    public static readonly uint IOCTL_GNTDEV_MAP_GRANT_REF =
        _IOC(_IOC_NONE, 'G', 0, sizeof(ioctl_gntdev_map_grant_ref));
    public static readonly uint IOCTL_GNTDEV_UNMAP_GRANT_REF =
        _IOC(_IOC_NONE, 'G', 1, sizeof(ioctl_gntdev_unmap_grant_ref));
    public static readonly uint IOCTL_GNTDEV_GET_OFFSET_FOR_VADDR =
        _IOC(_IOC_NONE, 'G', 2, sizeof(ioctl_gntdev_get_offset_for_vaddr));
    public static readonly uint IOCTL_GNTDEV_SET_MAX_GRANTS =
        _IOC(_IOC_NONE, 'G', 3, sizeof(ioctl_gntdev_set_max_grants));
    public static readonly uint IOCTL_GNTDEV_SET_UNMAP_NOTIFY =
        _IOC(_IOC_NONE, 'G', 7, sizeof(ioctl_gntdev_unmap_notify));
    public static readonly uint IOCTL_GNTDEV_GRANT_COPY =
        _IOC(_IOC_NONE, 'G', 8, sizeof(ioctl_gntdev_grant_copy));
    public static readonly uint IOCTL_GNTDEV_DMABUF_EXP_FROM_REFS =
        _IOC(_IOC_NONE, 'G', 9, sizeof(ioctl_gntdev_dmabuf_exp_from_refs));
    public static readonly uint IOCTL_GNTDEV_DMABUF_EXP_WAIT_RELEASED =
        _IOC(_IOC_NONE, 'G', 10, sizeof(ioctl_gntdev_dmabuf_exp_wait_released));
    public static readonly uint IOCTL_GNTDEV_DMABUF_IMP_TO_REFS =
        _IOC(_IOC_NONE, 'G', 11, sizeof(ioctl_gntdev_dmabuf_imp_to_refs));
    public static readonly uint IOCTL_GNTDEV_DMABUF_IMP_RELEASE =
        _IOC(_IOC_NONE, 'G', 12, sizeof(ioctl_gntdev_dmabuf_imp_release));

    /// <summary>Clear (set to zero) the byte specified by index.</summary>
    public const uint UNMAP_NOTIFY_CLEAR_BYTE = 0x1;
    /// <summary>Send an interrupt on the indicated event channel.</summary>
    public const uint UNMAP_NOTIFY_SEND_EVENT = 0x2;

    /// <summary>The buffer is backed with memory allocated with dma_alloc_wc.</summary>
    public const uint GNTDEV_DMA_FLAG_WC = 1 << 0;
    /// <summary>The buffer is backed with memory allocated with dma_alloc_coherent.</summary>
    public const uint GNTDEV_DMA_FLAG_COHERENT = 1 << 1;

    /// <summary>
    /// Bytes to allocate for a struct of <paramref name="sizeWithOneElement"/> bytes whose last member is a
    /// one-element array, so that it holds <paramref name="count"/> elements of <paramref name="elementSize"/>.
    /// </summary>
    public static nuint SizeWithTail(int sizeWithOneElement, int elementSize, int count)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        return (nuint)sizeWithOneElement + (nuint)elementSize * (nuint)Math.Max(count - 1, 0);
    }
}

/// <summary><c>struct ioctl_gntdev_grant_ref</c>: one grant to map.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct ioctl_gntdev_grant_ref
{
    /// <summary>The domain ID of the grant to be mapped.</summary>
    public uint domid;
    /// <summary>The grant reference of the grant to be mapped.</summary>
    public uint @ref;
}

/// <summary><c>struct ioctl_gntdev_map_grant_ref</c> (IOCTL_GNTDEV_MAP_GRANT_REF).</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct ioctl_gntdev_map_grant_ref
{
    /// <summary>IN: the number of grants to be mapped.</summary>
    public uint count;
    public uint pad;
    /// <summary>OUT: the offset to be used on a subsequent call to mmap().</summary>
    public ulong index;
    /// <summary>Variable IN: first of <see cref="count"/> grant references (<c>refs[1]</c> in C).</summary>
    public ioctl_gntdev_grant_ref refs;
}

/// <summary><c>struct ioctl_gntdev_unmap_grant_ref</c> (IOCTL_GNTDEV_UNMAP_GRANT_REF).</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct ioctl_gntdev_unmap_grant_ref
{
    /// <summary>IN: the offset returned by the corresponding map operation.</summary>
    public ulong index;
    /// <summary>IN: the number of pages to be unmapped.</summary>
    public uint count;
    public uint pad;
}

/// <summary><c>struct ioctl_gntdev_get_offset_for_vaddr</c> (IOCTL_GNTDEV_GET_OFFSET_FOR_VADDR).</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct ioctl_gntdev_get_offset_for_vaddr
{
    /// <summary>IN: the virtual address of the first mapped page in a range.</summary>
    public ulong vaddr;
    /// <summary>OUT: the offset that was used in the initial mmap() operation.</summary>
    public ulong offset;
    /// <summary>OUT: the number of pages mapped in the VM area that begins at <see cref="vaddr"/>.</summary>
    public uint count;
    public uint pad;
}

/// <summary><c>struct ioctl_gntdev_set_max_grants</c> (IOCTL_GNTDEV_SET_MAX_GRANTS).</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct ioctl_gntdev_set_max_grants
{
    /// <summary>IN: the maximum number of grants that may be mapped at once.</summary>
    public uint count;
}

/// <summary><c>struct ioctl_gntdev_unmap_notify</c> (IOCTL_GNTDEV_SET_UNMAP_NOTIFY).</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct ioctl_gntdev_unmap_notify
{
    /// <summary>IN: offset in the device file (as used in mmap) of a byte within the page.</summary>
    public ulong index;
    /// <summary>IN: UNMAP_NOTIFY_* action(s) to take on unmap.</summary>
    public uint action;
    /// <summary>IN: event channel to notify.</summary>
    public uint event_channel_port;
}

/// <summary><c>struct gntdev_grant_copy_segment</c>: one segment of IOCTL_GNTDEV_GRANT_COPY.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct gntdev_grant_copy_segment
{
    public union_virt_foreign source;
    public union_virt_foreign dest;
    public ushort len;
    /// <summary>GNTCOPY_*.</summary>
    public ushort flags;
    /// <summary>OUT: GNTST_*.</summary>
    public short status;

    /// <summary>The anonymous <c>union { void *virt; struct { ... } foreign; }</c> of source and dest.</summary>
    [StructLayout(LayoutKind.Explicit)]
    public unsafe struct union_virt_foreign
    {
        [FieldOffset(0)] public void* virt;
        [FieldOffset(0)] public struct_foreign foreign;
    }

    /// <summary>The anonymous <c>struct { grant_ref_t ref; __u16 offset; domid_t domid; } foreign</c>.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct struct_foreign
    {
        /// <summary><c>grant_ref_t</c> (uint32_t in the Xen ABI).</summary>
        public uint @ref;
        public ushort offset;
        /// <summary><c>domid_t</c> (uint16_t in the Xen ABI).</summary>
        public ushort domid;
    }
}

/// <summary><c>struct ioctl_gntdev_grant_copy</c> (IOCTL_GNTDEV_GRANT_COPY).</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct ioctl_gntdev_grant_copy
{
    public uint count;
    public gntdev_grant_copy_segment* segments;
}

/// <summary><c>struct ioctl_gntdev_dmabuf_exp_from_refs</c> (IOCTL_GNTDEV_DMABUF_EXP_FROM_REFS).</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct ioctl_gntdev_dmabuf_exp_from_refs
{
    /// <summary>IN: GNTDEV_DMA_FLAG_* options for this dma-buf.</summary>
    public uint flags;
    /// <summary>IN: number of grant references in <see cref="refs"/>.</summary>
    public uint count;
    /// <summary>OUT: file descriptor of the dma-buf.</summary>
    public uint fd;
    /// <summary>IN: the domain ID of the grant references to be mapped.</summary>
    public uint domid;
    /// <summary>Variable IN: first of <see cref="count"/> grant references (<c>refs[1]</c> in C).</summary>
    public fixed uint refs[1];
}

/// <summary><c>struct ioctl_gntdev_dmabuf_exp_wait_released</c> (IOCTL_GNTDEV_DMABUF_EXP_WAIT_RELEASED).</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct ioctl_gntdev_dmabuf_exp_wait_released
{
    /// <summary>IN: the exported dma-buf's fd.</summary>
    public uint fd;
    /// <summary>IN: milliseconds to wait.</summary>
    public uint wait_to_ms;
}

/// <summary><c>struct ioctl_gntdev_dmabuf_imp_to_refs</c> (IOCTL_GNTDEV_DMABUF_IMP_TO_REFS).</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct ioctl_gntdev_dmabuf_imp_to_refs
{
    /// <summary>IN: file descriptor of the dma-buf.</summary>
    public uint fd;
    /// <summary>IN: number of grant references in <see cref="refs"/>.</summary>
    public uint count;
    /// <summary>IN: the domain ID for which references are to be granted.</summary>
    public uint domid;
    /// <summary>Reserved: must be zero.</summary>
    public uint reserved;
    /// <summary>Variable OUT: first of <see cref="count"/> grant references (<c>refs[1]</c> in C).</summary>
    public fixed uint refs[1];
}

/// <summary><c>struct ioctl_gntdev_dmabuf_imp_release</c> (IOCTL_GNTDEV_DMABUF_IMP_RELEASE).</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct ioctl_gntdev_dmabuf_imp_release
{
    /// <summary>IN: the imported dma-buf's fd.</summary>
    public uint fd;
    /// <summary>Reserved: must be zero.</summary>
    public uint reserved;
}
