namespace BufferActors.Native.Simulation;

/// <summary>Settings of a <see cref="XenSimulator"/>. Every derived behaviour comes from these and the fault plan's seed.</summary>
public sealed record SimulatorOptions
{
    /// <summary>Seed for everything random in the simulation (fault plans created by the simulator).</summary>
    public int Seed { get; init; }

    /// <summary>Page limit per buffer and map (gntdev's <c>limit</c> module parameter; 64Ki by default).</summary>
    public int PageLimit { get; init; } = 65536;

    /// <summary>Pages of memory given to a domain when none is specified (sparse: untouched pages cost nothing).</summary>
    public int DefaultDomainPages { get; init; } = 32768;

    /// <summary>Pages of the backend domain (dom0), which allocates device buffers.</summary>
    public int BackendDomainPages { get; init; } = 65536;

    /// <summary>Grant-table entries per domain (v1: 512 per grant frame; 64 frames by default).</summary>
    public int GrantTableEntries { get; init; } = 64 * 512;

    /// <summary>Tries of a page whose map returns GNTST_eagain before it is reported as bad_page (the kernel retries 255 times, ~32 s).</summary>
    public int EagainRetries { get; init; } = 255;

    /// <summary>Failed retries of a deferred end-access after which it is reported "still pending" (the kernel: 60, one per second). It keeps being retried.</summary>
    public int DeferredReportAfter { get; init; } = 60;

    /// <summary>Deferred end-access entries retried per tick (grant-table's <c>free_per_iteration</c>, 10 by default; 0 = all).</summary>
    public int DeferredPerTick { get; init; } = 10;

    /// <summary>Grants the gntalloc instances of one domain's kernel may hold together (gntalloc's <c>limit</c>, 1024 by default).</summary>
    public int GntallocLimit { get; init; } = 1024;

    /// <summary>When true, gntdev instances use PTE-modification mapping (PV dom0 on x86): dma-buf export is refused with EINVAL.</summary>
    public bool PteModificationMode { get; init; }
}
