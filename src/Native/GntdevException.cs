namespace BufferActors.Native;

/// <summary>
/// An operation on a grant device failed with an errno and, when a grant map failed, the Xen grant status of the
/// first failing page: what the kernel's gntdev (or the simulator standing in for it) refused.
/// </summary>
public class GntdevException : NativeCallException
{
    /// <summary>Creates the error.</summary>
    public GntdevException(string operation, Errno errno, string detail, GrantStatus? grantStatus = null, int? failedPage = null)
        : base(operation, errno, detail,
            $"{operation} failed: {errno} ({(int)errno}){(grantStatus is { } s ? $", grant status {s} ({(short)s})" : "")}{(failedPage is { } p ? $" at page {p}" : "")}: {detail}")
    {
        GrantStatus = grantStatus;
        FailedPage = failedPage;
    }

    /// <summary>For grant-map failures: the <c>GNTST_*</c> status of the first page that failed.</summary>
    public GrantStatus? GrantStatus { get; }

    /// <summary>For grant-map failures: the index of the first page that failed.</summary>
    public int? FailedPage { get; }
}

/// <summary>The grant device cannot be opened at all (absent, no permission, no dma-buf support).</summary>
public sealed class GrantDeviceUnavailableException : GntdevException
{
    /// <summary>Creates the error.</summary>
    public GrantDeviceUnavailableException(string path, Errno errno, string detail)
        : base("open", errno, detail) => DevicePath = path;

    /// <summary>The device node that could not be opened.</summary>
    public string DevicePath { get; }
}
