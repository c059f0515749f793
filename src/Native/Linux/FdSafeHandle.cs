using System.Runtime.InteropServices;
using Tmds.Linux;

namespace BufferActors.Native.Linux;

/// <summary>An open file descriptor (of <c>/dev/xen/gntdev</c>, <c>/dev/xen/gntalloc</c>, a dma-buf or a memfd); releasing the handle closes it.</summary>
/// <remarks>
/// Callers pass the fd to the kernel only between <see cref="SafeHandle.DangerousAddRef"/> and
/// <see cref="SafeHandle.DangerousRelease"/>, so the descriptor cannot be closed (and its number
/// reused by another open) while a call on it is in flight.
/// </remarks>
internal sealed class FdSafeHandle : SafeHandle
{
    /// <summary>Creates an invalid handle (fd -1).</summary>
    public FdSafeHandle()
        : base(invalidHandleValue: new IntPtr(-1), ownsHandle: true)
    {
    }

    /// <summary>Takes ownership of <paramref name="fd"/>.</summary>
    public FdSafeHandle(int fd)
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
        return rc == 0 || LinuxErrno.Last() == Errno.EINTR;
    }

    /// <summary>
    /// Holds a reference on the handle for the duration of a raw call: <c>using var fd = handle.Borrow();</c>
    /// then pass <see cref="Lease.Fd"/>. The number cannot be closed and reused while the lease lives.
    /// </summary>
    public Lease Borrow() => new(this);

    /// <summary>A reference held on an <see cref="FdSafeHandle"/>; see <see cref="Borrow"/>.</summary>
    public ref struct Lease
    {
        private readonly FdSafeHandle _handle;
        private bool _added;

        internal Lease(FdSafeHandle handle)
        {
            _handle = handle;
            _added = false;
            handle.DangerousAddRef(ref _added);
            Fd = handle.DangerousGetFd();
        }

        /// <summary>The descriptor number, valid while the lease lives.</summary>
        public int Fd { get; }

        /// <summary>Releases the reference.</summary>
        public void Dispose()
        {
            if (_added)
            {
                _added = false;
                _handle.DangerousRelease();
            }
        }
    }
}
