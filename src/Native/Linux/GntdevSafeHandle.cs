using System.Runtime.InteropServices;
using Tmds.Linux;

namespace BufferActors.Native.Linux;

/// <summary>An open file descriptor of <c>/dev/xen/gntdev</c>; releasing the handle closes it.</summary>
/// <remarks>
/// Callers pass the fd to the kernel only between <see cref="SafeHandle.DangerousAddRef"/> and
/// <see cref="SafeHandle.DangerousRelease"/>, so the descriptor cannot be closed (and its number
/// reused by another open) while a call on it is in flight.
/// </remarks>
internal sealed class GntdevSafeHandle : SafeHandle
{
    /// <summary>Creates an invalid handle (fd -1).</summary>
    public GntdevSafeHandle()
        : base(invalidHandleValue: new IntPtr(-1), ownsHandle: true)
    {
    }

    /// <summary>Takes ownership of <paramref name="fd"/>.</summary>
    public GntdevSafeHandle(int fd)
        : this() => SetHandle(new IntPtr(fd));

    /// <inheritdoc />
    public override bool IsInvalid => handle.ToInt64() < 0;

    /// <summary>The descriptor number; only meaningful while a reference is held.</summary>
    public int DangerousGetFd() => (int)DangerousGetHandle();

    /// <inheritdoc />
    protected override bool ReleaseHandle()
    {
        // close(2) must not be retried on EINTR: on Linux the descriptor is gone either way, and a retry
        // could close a descriptor another thread has just been given the same number for.
        int rc = LibC.close((int)handle);
        return rc == 0 || LibC.errno == LibC.EINTR;
    }
}
