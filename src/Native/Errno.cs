namespace BufferActors.Native;

/// <summary>The Linux errno values the gntdev dma-buf interface can report.</summary>
public enum Errno
{
    /// <summary>No error.</summary>
    None = 0,
    /// <summary>Operation not permitted.</summary>
    EPERM = 1,
    /// <summary>No such entry: for WAIT_RELEASED and IMP_RELEASE, "not (or no longer) known here".</summary>
    ENOENT = 2,
    /// <summary>Interrupted system call (retried at the interop boundary).</summary>
    EINTR = 4,
    /// <summary>I/O error.</summary>
    EIO = 5,
    /// <summary>Not a valid file descriptor.</summary>
    EBADF = 9,
    /// <summary>Try again.</summary>
    EAGAIN = 11,
    /// <summary>Out of memory (also: memory reservation could not be changed).</summary>
    ENOMEM = 12,
    /// <summary>Permission denied.</summary>
    EACCES = 13,
    /// <summary>Bad address (copy to/from the caller failed).</summary>
    EFAULT = 14,
    /// <summary>Busy: an attachment is already mapped in another direction.</summary>
    EBUSY = 16,
    /// <summary>No such device (CONFIG_XEN_GNTDEV_DMABUF missing, or not a Xen domain).</summary>
    ENODEV = 19,
    /// <summary>Invalid argument.</summary>
    EINVAL = 22,
    /// <summary>Not a typewriter: the ioctl is unknown to this driver.</summary>
    ENOTTY = 25,
    /// <summary>No space left (e.g. no free grant references).</summary>
    ENOSPC = 28,
    /// <summary>Broken pipe: the peer closed its end.</summary>
    EPIPE = 32,
    /// <summary>Message too long (a datagram larger than the receiver's buffer, or too many descriptors with it).</summary>
    EMSGSIZE = 90,
    /// <summary>Operation not supported by this device.</summary>
    EOPNOTSUPP = 95,
    /// <summary>Connection reset by the peer.</summary>
    ECONNRESET = 104,
    /// <summary>Timed out waiting.</summary>
    ETIMEDOUT = 110,
    /// <summary>Nobody listens on the socket.</summary>
    ECONNREFUSED = 111,
}
