namespace BufferActors.Actors.Diagnostics;

/// <summary>
/// What a machine answered to <c>doctor</c>'s questions, raw: files read, device nodes opened, and the errno of the
/// harmless ioctls asked of the gntdev. <see cref="DoctorReport.Evaluate"/> reads only this, so the judgement is tested
/// against answers recorded on machines this one is not (a dma-buf-capable, a non-dma-buf and a PV gntdev).
/// </summary>
/// <param name="Machine">The processor architecture (<c>x64</c>, <c>arm64</c>).</param>
/// <param name="Uid">Who asked.</param>
/// <param name="HypervisorType"><c>/sys/hypervisor/type</c> (<c>xen</c> in a Xen domain); null when absent.</param>
/// <param name="GuestType"><c>/sys/hypervisor/guest_type</c> (<c>PV</c>, <c>PVH</c>, <c>HVM</c>); null when absent.</param>
/// <param name="XenCapabilities"><c>/proc/xen/capabilities</c> (<c>control_d</c> in dom0); null when absent.</param>
/// <param name="Gntdev">The grant device node.</param>
/// <param name="Gntalloc">The grant allocator node.</param>
/// <param name="Udmabuf">The udmabuf node.</param>
/// <param name="WaitUnknown">errno name of DMABUF_EXP_WAIT_RELEASED on a number no export has (ENOENT: the ioctls exist); null when not asked.</param>
/// <param name="ExportNothing">errno name of DMABUF_EXP_FROM_REFS with no argument (EFAULT: exports are possible; EINVAL: refused, a PV domain); null when not asked.</param>
/// <param name="GntdevLimit"><c>/sys/module/xen_gntdev/parameters/limit</c>.</param>
/// <param name="GntallocLimit"><c>/sys/module/xen_gntalloc/parameters/limit</c>.</param>
/// <param name="UdmabufSizeLimitMb"><c>/sys/module/udmabuf/parameters/size_limit_mb</c>.</param>
/// <param name="DmaBacking">A one-page write-combining export's effect on the balloon; null when it could not be tried.</param>
/// <param name="Journal">The journal file asked about, and whether its folder takes a new file; null when none was named.</param>
public sealed record MachineAnswers(
    string Machine,
    int Uid,
    string? HypervisorType,
    string? GuestType,
    string? XenCapabilities,
    NodeAnswer Gntdev,
    NodeAnswer Gntalloc,
    NodeAnswer Udmabuf,
    string? WaitUnknown,
    string? ExportNothing,
    string? GntdevLimit,
    string? GntallocLimit,
    string? UdmabufSizeLimitMb,
    DmaBackingAnswer? DmaBacking,
    JournalAnswer? Journal);

/// <summary>A device node: whether it exists, its owner and mode, and the errno of opening it read-write (null: it opened).</summary>
public sealed record NodeAnswer(string Path, bool Exists, string? Owner, string? OpenError);

/// <summary>The balloon's <c>current_kb</c> before a one-page write-combining export and while it is live (and the export's own errno, if it failed).</summary>
public sealed record DmaBackingAnswer(long? BeforeKb, long? DuringKb, string? Error);

/// <summary>A journal file and whether its folder takes a new file (the reason when not).</summary>
public sealed record JournalAnswer(string Path, bool Writable, string? Problem);
