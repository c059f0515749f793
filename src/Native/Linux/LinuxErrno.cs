using System.Runtime.InteropServices;
using Tmds.Linux;

namespace BufferActors.Native.Linux;

/// <summary>
/// The boundary where a failed Linux call becomes an error: errno is read here and nowhere else, and
/// <see cref="Fail"/> is the one conversion of an errno into <see cref="GntdevException"/>.
/// </summary>
internal static class LinuxErrno
{
    /// <summary>
    /// errno as the last raw call left it: the value the runtime saved as that call returned (every call used here is
    /// declared with SetLastError, Tmds.LibC's and <see cref="Poll"/>), so nothing run after it can change it.
    /// </summary>
    public static Errno Last() => (Errno)Marshal.GetLastPInvokeError();

    /// <summary>True (and the errno) when a raw call returned -1.</summary>
    public static bool Failed(int rc, out Errno errno)
    {
        errno = rc == -1 ? Last() : Errno.None;
        return rc == -1;
    }

    /// <summary>True (and the errno) when a raw call returned a negative <c>ssize_t</c>/<c>off_t</c>.</summary>
    public static bool Failed(long rc, out Errno errno)
    {
        errno = rc < 0 ? Last() : Errno.None;
        return rc < 0;
    }

    /// <summary>The exception for <paramref name="operation"/> failing with <paramref name="errno"/>.</summary>
    public static GntdevException Fail(string operation, Errno errno, string? detail = null)
    {
        string text = Marshal.GetPInvokeErrorMessage((int)errno);
        if (detail is not null)
        {
            text = $"{detail} ({text})";
        }

        if (errno is Errno.ENOTTY && operation.StartsWith("DMABUF_", StringComparison.Ordinal))
        {
            text += "; this kernel's gntdev has no dma-buf ioctls (it needs CONFIG_XEN_GNTDEV_DMABUF)";
        }

        return new GntdevException(operation, errno, text);
    }

    /// <summary>The exception for the socket call <paramref name="operation"/> failing with <paramref name="errno"/>.</summary>
    public static UnixSocketException SocketFail(string operation, Errno errno, string detail) =>
        new(operation, errno, $"{detail} ({Marshal.GetPInvokeErrorMessage((int)errno)})");

    /// <summary>The exception for any other call <paramref name="operation"/> (memfd_create, ftruncate, mmap) failing with <paramref name="errno"/>.</summary>
    public static NativeCallException CallFail(string operation, Errno errno, string detail) =>
        new(operation, errno, $"{detail} ({Marshal.GetPInvokeErrorMessage((int)errno)})");
}
