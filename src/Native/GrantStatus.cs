namespace BufferActors.Native;

/// <summary>Xen grant-table operation status codes (<c>GNTST_*</c>).</summary>
public enum GrantStatus : short
{
    /// <summary>GNTST_okay.</summary>
    Okay = 0,
    /// <summary>GNTST_general_error.</summary>
    GeneralError = -1,
    /// <summary>GNTST_bad_domain: unrecognised or dead domain.</summary>
    BadDomain = -2,
    /// <summary>GNTST_bad_gntref: unrecognised, unused or foreign grant reference.</summary>
    BadGntref = -3,
    /// <summary>GNTST_bad_handle.</summary>
    BadHandle = -4,
    /// <summary>GNTST_bad_virt_addr.</summary>
    BadVirtAddr = -5,
    /// <summary>GNTST_bad_dev_addr.</summary>
    BadDevAddr = -6,
    /// <summary>GNTST_no_device_space: out of maptrack space.</summary>
    NoDeviceSpace = -7,
    /// <summary>GNTST_permission_denied: e.g. writable map of a read-only grant.</summary>
    PermissionDenied = -8,
    /// <summary>GNTST_bad_page.</summary>
    BadPage = -9,
    /// <summary>GNTST_bad_copy_arg.</summary>
    BadCopyArg = -10,
    /// <summary>GNTST_address_too_big.</summary>
    AddressTooBig = -11,
    /// <summary>GNTST_eagain: transient, the kernel retries.</summary>
    Eagain = -12,
    /// <summary>GNTST_no_space.</summary>
    NoSpace = -13,
}
