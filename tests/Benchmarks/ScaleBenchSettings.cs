using BufferActors.Actors.Supervision;

namespace BufferActors.Benchmarks;

/// <summary>Settings of <c>bench scale</c>.</summary>
/// <param name="Lifecycles">Export lifecycles kept live at once.</param>
/// <param name="Pages">Pages per buffer.</param>
/// <param name="Domains">Frontend domains the lifecycles are spread over (round robin).</param>
/// <param name="Sample">Lifecycles whose release is timed one at a time, and again as many released in batches.</param>
/// <param name="Batch">Releases issued at once in the batched latency phase (0 skips it).</param>
/// <param name="Warmup">Full lifecycles (export, wait, release) run before anything is measured.</param>
/// <param name="Journal">SQLite path or PostgreSQL connection string of a journal; null runs without one.</param>
internal sealed record ScaleBenchSettings(int Lifecycles, int Pages, int Domains, int Sample, int Batch, int Warmup, string? Journal)
{
    /// <summary>The most lifecycles one domain holds.</summary>
    public int PerDomain => (Lifecycles + Domains - 1) / Domains;

    /// <summary>
    /// The per-domain quotas: the defaults, raised where one domain must hold more. A backend serving
    /// few frontends with many buffers raises them the same way (<c>MaxBuffersPerDomain</c>).
    /// </summary>
    public DomainLifecycles.Quotas Quotas
    {
        get
        {
            var d = DomainLifecycles.Quotas.Default;
            return new DomainLifecycles.Quotas(Math.Max(d.MaxBuffers, PerDomain), Math.Max(d.MaxPages, (long)PerDomain * Pages));
        }
    }

    /// <summary>Lifecycles released in the batched latency phase.</summary>
    public int Batched => Batch > 0 ? Sample : 0;

    /// <summary>Why these settings cannot run, or null.</summary>
    public string? Problem() =>
        Lifecycles < 1 || Pages < 1 || Domains < 1 || Sample < 1 || Batch < 0 || Warmup < 0
            ? "--lifecycles, --pages, --domains and --sample must be at least 1; --batch and --warmup at least 0"
        : Domains > Lifecycles ? "--domains cannot exceed --lifecycles"
        : Domains >= 0x7FF0 ? "--domains must stay below 0x7FF0 (reserved domain ids)"
        : Sample + Batched > Lifecycles ? "--sample (twice with --batch) cannot exceed --lifecycles"
        : null;
}
