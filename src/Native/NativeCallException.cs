namespace BufferActors.Native;

/// <summary>
/// A call into the operating system failed with an errno: the base of the native layer's errors, which are made
/// from an errno in one place (<c>Linux/LinuxErrno</c>). <see cref="GntdevException"/> is a grant device's
/// refusal, <see cref="UnixSocketException"/> a socket's failure; this type itself is any other call (memfd, mmap).
/// </summary>
public class NativeCallException : Exception
{
    /// <summary>Creates the error; the message names the operation, the errno and <paramref name="detail"/>.</summary>
    public NativeCallException(string operation, Errno errno, string detail)
        : this(operation, errno, detail, $"{operation} failed: {errno} ({(int)errno}): {detail}")
    {
    }

    /// <summary>Creates the error with a message of the subclass's own.</summary>
    protected NativeCallException(string operation, Errno errno, string detail, string message)
        : base(message)
    {
        Operation = operation;
        Errno = errno;
        Detail = detail;
    }

    /// <summary>The operation, named after its call or ioctl (e.g. <c>mmap</c>, <c>DMABUF_EXP_FROM_REFS</c>).</summary>
    public string Operation { get; }

    /// <summary>The errno the kernel (or the simulator) returned.</summary>
    public Errno Errno { get; }

    /// <summary>Human-readable reason.</summary>
    public string Detail { get; }
}
