namespace BufferActors.Actors.Diagnostics;

/// <summary>What <c>doctor</c> found: one line per check with its evidence, and whether the configured mode can run.</summary>
/// <param name="Device">The mode asked about: <c>linux</c> or <c>simulator</c>.</param>
/// <param name="CanRun">True when every check the mode needs holds.</param>
/// <param name="Findings">The checks, in the order they were made.</param>
public sealed record DoctorReport(string Device, bool CanRun, IReadOnlyList<DoctorReport.Finding> Findings)
{
    /// <summary>How a check came out.</summary>
    public enum Outcome
    {
        /// <summary>Holds.</summary>
        Ok,
        /// <summary>For information: nothing the mode needs.</summary>
        Info,
        /// <summary>Does not hold, and the mode does not need it.</summary>
        Warning,
        /// <summary>Does not hold, and the mode needs it.</summary>
        Failed,
    }

    /// <summary>One check: what, how it came out, what was seen, and what to do when it did not hold.</summary>
    public sealed record Finding(string Check, Outcome Outcome, string Evidence, string? Hint = null);

    /// <summary>The findings for <paramref name="device"/> (<c>linux</c> or <c>simulator</c>) from what the machine answered.</summary>
    public static DoctorReport Evaluate(MachineAnswers a, string device)
    {
        ArgumentNullException.ThrowIfNull(a);
        bool linux = device == "linux";
        Outcome Needed(bool holds) => holds ? Outcome.Ok : linux ? Outcome.Failed : Outcome.Warning;
        const string simulator = "without Xen, run on the simulator: --device simulator (serve, demo, simulate)";
        var findings = new List<Finding>();

        bool xen = a.HypervisorType == "xen" || a.XenCapabilities is not null;
        findings.Add(new("a Xen domain", Needed(xen),
            xen ? $"/sys/hypervisor/type: {a.HypervisorType ?? "(absent)"}; /proc/xen/capabilities: {Shown(a.XenCapabilities)}"
                : $"not a Xen domain: /sys/hypervisor/type is {Shown(a.HypervisorType)} and /proc/xen/capabilities is absent",
            xen ? null : simulator));
        if (xen)
        {
            bool dom0 = a.XenCapabilities?.Contains("control_d", StringComparison.Ordinal) == true;
            findings.Add(new("domain", Outcome.Info, dom0 ? "dom0 (control_d in /proc/xen/capabilities)" : "a domU or driver domain (no control_d in /proc/xen/capabilities)"));
            bool arm = a.Machine.StartsWith("arm", StringComparison.OrdinalIgnoreCase);
            bool pv = !arm && string.Equals(a.GuestType, "PV", StringComparison.OrdinalIgnoreCase);
            string type = arm ? $"Arm ({a.Machine}): auto-translated, as dma-buf export needs" : a.GuestType is null ? "unknown (/sys/hypervisor/guest_type absent)" : $"{a.GuestType} ({a.Machine})";
            findings.Add(new("guest type allows dma-buf export", pv ? Needed(false) : Outcome.Ok, type,
                pv ? "gntdev refuses dma-buf export in a PV domain: run the backend in a PVH or HVM domain, or on Arm" : null));
        }

        findings.Add(Node(a.Gntdev, "the grant device", Needed(a.Gntdev.Exists && a.Gntdev.OpenError is null), "load it: modprobe xen-gntdev", a.Uid));
        if (a.WaitUnknown is { } wait)
        {
            bool dmabuf = wait == "ENOENT";
            findings.Add(new("gntdev has the dma-buf ioctls", Needed(dmabuf),
                $"DMABUF_EXP_WAIT_RELEASED of a number no export has: {wait}" + (wait == "ENOTTY" ? " (the driver was built without CONFIG_XEN_GNTDEV_DMABUF)" : ""),
                dmabuf ? null : "load a xen-gntdev built with CONFIG_XEN_GNTDEV_DMABUF (docs/real-kernel.md builds one)"));
        }
        if (a.ExportNothing is { } export && a.WaitUnknown == "ENOENT")
        {
            bool exports = export == "EFAULT";
            findings.Add(new("gntdev exports dma-bufs", Needed(exports),
                $"DMABUF_EXP_FROM_REFS with no argument: {export}" + (export == "EINVAL" ? " (refused before reading it: the domain maps grants by PTE, as PV does)" : " (it read the argument: exports are possible)"),
                exports ? null : "dma-buf export needs an auto-translated domain (PVH, HVM, Arm)"));
        }
        if (a.DmaBacking is { } dma)
        {
            findings.Add(dma switch
            {
                { Error: { } error } => new Finding("DMA-able backing (WC/coherent)", Outcome.Warning, $"a one-page write-combining export failed: {error}"),
                { BeforeKb: { } before, DuringKb: { } during } when during < before =>
                    new Finding("DMA-able backing (WC/coherent)", Outcome.Ok, $"a one-page write-combining export lowered the balloon's current_kb {before} → {during}"),
                { BeforeKb: { } before, DuringKb: { } during } =>
                    new Finding("DMA-able backing (WC/coherent)", Outcome.Warning,
                        $"unavailable: a one-page write-combining export left the balloon's current_kb at {before} (now {during}): the kernel accepts WC and backs the buffer with normal pages",
                        "DMA-able exports need a kernel built with CONFIG_XEN_GRANT_DMA_ALLOC"),
                _ => new Finding("DMA-able backing (WC/coherent)", Outcome.Info, "not determined: the balloon's current_kb cannot be read"),
            });
        }
        else if (xen)
        {
            findings.Add(new("DMA-able backing (WC/coherent)", Outcome.Info, "not tried: it needs /dev/xen/gntalloc and dma-buf export"));
        }

        findings.Add(Node(a.Gntalloc, "the grant allocator", a.Gntalloc.Exists && a.Gntalloc.OpenError is null ? Outcome.Ok : Outcome.Info, "only to grant this domain's own pages (tests): modprobe xen-gntalloc", a.Uid));
        findings.Add(Node(a.Udmabuf, "udmabuf", a.Udmabuf.Exists && a.Udmabuf.OpenError is null ? Outcome.Ok : Outcome.Info, "only to make dma-bufs of ordinary memory (tests): modprobe udmabuf", a.Uid));
        var limits = new List<string>();
        if (a.GntdevLimit is { } l1) limits.Add($"gntdev {l1} pages per buffer");
        if (a.GntallocLimit is { } l2) limits.Add($"gntalloc {l2} grants");
        if (a.UdmabufSizeLimitMb is { } l3) limits.Add($"udmabuf {l3} MB per buffer");
        findings.Add(new("limits", Outcome.Info, limits.Count == 0 ? "none readable (the modules are not loaded)" : string.Join("; ", limits)));

        if (a.Journal is { } journal)
        {
            findings.Add(new("the journal's folder takes a new file", journal.Writable ? Outcome.Ok : Outcome.Failed,
                journal.Writable ? journal.Path : $"{journal.Path}: {journal.Problem}", journal.Writable ? null : "choose a writable path: --journal FILE"));
        }

        return new DoctorReport(linux ? "linux" : "simulator", findings.All(f => f.Outcome != Outcome.Failed), findings);
    }

    private static Finding Node(NodeAnswer node, string what, Outcome outcome, string hint, int uid) =>
        new($"{what} ({node.Path})", outcome,
            !node.Exists ? "absent"
            : node.OpenError is null ? $"opens read-write for uid {uid}; {node.Owner}"
            : $"does not open read-write for uid {uid}: {node.OpenError}; {node.Owner}",
            outcome == Outcome.Ok ? null : !node.Exists ? hint : "run as a user the node's owner, group or mode lets in");

    private static string Shown(string? value) => value is null ? "absent" : $"'{value.Trim()}'";
}
