using System.Runtime.InteropServices;

namespace BufferActors.Host.Daemon;

/// <summary>
/// A descriptor a reply carries (SCM_RIGHTS): one given away, closed here once sent (the client has its own copy), or
/// one borrowed from its owner, whose reference is held until the reply went so its owner cannot close it under the send.
/// </summary>
internal sealed class Carried : IDisposable
{
    private readonly bool _borrowed;

    private Carried(SafeHandle handle, bool borrowed)
    {
        Handle = handle;
        _borrowed = borrowed;
    }

    /// <summary>The descriptor to send.</summary>
    public SafeHandle Handle { get; }

    /// <summary>A descriptor this reply owns.</summary>
    public static Carried? Given(SafeHandle? handle) => handle is null ? null : new Carried(handle, borrowed: false);

    /// <summary>A descriptor its owner keeps; null when the owner closed it already.</summary>
    public static Carried? Borrow(SafeHandle handle)
    {
        bool added = false;
        try
        {
            handle.DangerousAddRef(ref added);
        }
        catch (ObjectDisposedException)
        {
            return null;
        }
        return added ? new Carried(handle, borrowed: true) : null;
    }

    /// <summary>Closes a given descriptor, or gives the borrowed reference back.</summary>
    public void Dispose()
    {
        if (_borrowed) Handle.DangerousRelease();
        else Handle.Dispose();
    }
}
