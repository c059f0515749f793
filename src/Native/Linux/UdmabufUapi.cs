// C declarations of <linux/udmabuf.h> (the Linux UAPI of /dev/udmabuf) and of the memfd sealing
// constants of <linux/fcntl.h> / <linux/memfd.h> it depends on. C names kept exactly; checked against
// the installed headers by tests/BufferActors.Tests/Linux/GntdevLayoutTests.cs.
using System.Runtime.InteropServices;

#pragma warning disable CS8981 // C names are lower case on purpose.
#pragma warning disable IDE1006 // Naming rule violation: C names kept exactly.

namespace BufferActors.Native.Linux;

/// <summary>The constants of <c>&lt;linux/udmabuf.h&gt;</c> and the memfd seals udmabuf requires.</summary>
internal static unsafe class UdmabufUapi
{
    // <asm-generic/ioctl.h>: _IOW = _IOC(_IOC_WRITE, ...).
    public const uint _IOC_WRITE = 1;

    public static readonly uint UDMABUF_CREATE = GntdevUapi._IOC(_IOC_WRITE, 'u', 0x42, sizeof(udmabuf_create));

    /// <summary>The dma-buf fd is created O_CLOEXEC.</summary>
    public const uint UDMABUF_FLAGS_CLOEXEC = 0x01;

    // <linux/memfd.h>
    public const uint MFD_CLOEXEC = 0x0001;
    public const uint MFD_ALLOW_SEALING = 0x0002;

    // <linux/fcntl.h>: udmabuf refuses a memfd that could shrink under it.
    public const int F_ADD_SEALS = 1024 + 9;
    public const int F_SEAL_SHRINK = 0x0002;

    // <linux/fcntl.h>: the simulator's read-only grant maps for another process are memfds sealed read-only.
    public const int F_SEAL_GROW = 0x0004;
    public const int F_SEAL_WRITE = 0x0008;
}

/// <summary><c>struct udmabuf_create</c> (UDMABUF_CREATE).</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct udmabuf_create
{
    public uint memfd;
    public uint flags;
    public ulong offset;
    public ulong size;
}
