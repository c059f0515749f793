using BufferActors.Actors.Lifecycles;
using BufferActors.Actors.Supervision;

namespace BufferActors.Actors.Hosting;

/// <summary>Settings of an embedded BufferActors; every property has a documented default.</summary>
public sealed record BufferActorsOptions
{
    /// <summary>
    /// Opens the grant device BufferActors drives, once, when the host starts; null (the default) opens the Linux
    /// gntdev at <see cref="DevicePath"/>. Hosts that drive the simulator pass its device here (the product
    /// assembly does not carry the simulator), e.g. <c>_ =&gt; simulator.OpenGrantDevice()</c>.
    /// </summary>
    public Func<IServiceProvider, IGrantDevice>? DeviceFactory { get; init; }

    /// <summary>Path of the Linux grant device; <c>/dev/xen/gntdev</c> by default.</summary>
    public string DevicePath { get; init; } = "/dev/xen/gntdev";

    /// <summary>Per-domain quotas; <see cref="DomainLifecycles.Quotas.Default"/> by default.</summary>
    public DomainLifecycles.Quotas Quotas { get; init; } = DomainLifecycles.Quotas.Default;

    /// <summary>Export timings; <see cref="ExportSettings.Default"/> by default.</summary>
    public ExportSettings Export { get; init; } = ExportSettings.Default;

    /// <summary>
    /// Where lifecycles are journaled: an embedded SQLite file <c>bufferactors-journal.db</c> by default;
    /// PostgreSQL by connection string; null turns journaling off.
    /// </summary>
    public Persistence.JournalStorage? Journal { get; init; } = new Persistence.JournalStorage.Sqlite("bufferactors-journal.db");

    /// <summary>Settings of the journal actor (persistence id, snapshot interval, batch size, fault injection); the defaults by default.</summary>
    public Persistence.LifecycleJournal.Settings JournalSettings { get; init; } = new();

    /// <summary>
    /// Run the manager, the domain supervisors and the lifecycles on the <see cref="Dispatch.InlineDispatcher"/>
    /// (the default) rather than on Akka's default dispatcher, the thread pool. Each step then runs on the
    /// caller's thread instead of hopping threads at every message: 1.05–1.08 times the direct calls' time per
    /// 1080p lifecycle against 1.16–1.31, and about three times the lifecycles per second with a thousand in
    /// flight (docs/performance.md). False puts every actor back on the thread pool.
    /// </summary>
    public bool InlineDispatch { get; init; } = true;

    /// <summary>Timeout of each client request; 30 s by default.</summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// How long a lifecycle waits for the journal to confirm a write before it treats the write as failed;
    /// 10 s by default. Raise it where storage is slow (a network database, an emulated machine). The journal's
    /// own recovery at start waits this long too for each step it asks of the storage (at least Akka's 30 s):
    /// a recovery that times out is started again, and requests wait for it.
    /// </summary>
    public TimeSpan JournalTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Reads options from configuration keys (e.g. the <c>BufferActors</c> section):
    /// <c>DevicePath</c>, <c>Journal</c> (SQLite path, PostgreSQL connection string, or "none"), <c>JournalDurability</c> (process | power, for
    /// a SQLite journal), <c>MaxBuffersPerDomain</c>, <c>MaxPagesPerDomain</c>,
    /// <c>RequestTimeoutSeconds</c>, <c>JournalTimeoutSeconds</c>, <c>InlineDispatch</c> (true | false). Absent keys keep their defaults; an invalid value throws with the key's name.
    /// </summary>
    public static BufferActorsOptions FromConfiguration(Func<string, string?> get)
    {
        var o = new BufferActorsOptions();
        if (get("DevicePath") is { } path) o = o with { DevicePath = path };
        if (get("Journal") is { } journal)
            o = o with { Journal = journal is "" or "none" ? null : Persistence.JournalStorage.Parse(journal) };
        if (get("JournalDurability") is { } durability)
        {
            var mode = Enum.TryParse<Persistence.JournalDurability>(durability, ignoreCase: true, out var m) && !int.TryParse(durability, out _) ? m
                : throw new ArgumentException($"BufferActors:JournalDurability must be 'process' or 'power', not '{durability}'");
            if (o.Journal is Persistence.JournalStorage.Sqlite sqlite) o = o with { Journal = sqlite with { Durability = mode } };
        }
        int buffers = ReadInt(get, "MaxBuffersPerDomain") ?? o.Quotas.MaxBuffers;
        long pages = ReadInt(get, "MaxPagesPerDomain") ?? o.Quotas.MaxPages;
        o = o with { Quotas = new DomainLifecycles.Quotas(buffers, pages) };
        if (ReadInt(get, "RequestTimeoutSeconds") is { } seconds) o = o with { RequestTimeout = TimeSpan.FromSeconds(seconds) };
        if (ReadInt(get, "JournalTimeoutSeconds") is { } journalSeconds) o = o with { JournalTimeout = TimeSpan.FromSeconds(journalSeconds) };
        if (get("InlineDispatch") is { } inline)
            o = o with
            {
                InlineDispatch = bool.TryParse(inline, out var on) ? on : throw new ArgumentException($"BufferActors:InlineDispatch must be 'true' or 'false', not '{inline}'"),
            };
        return o;
    }

    private static int? ReadInt(Func<string, string?> get, string key) =>
        get(key) is not { } text ? null
        : int.TryParse(text, out var v) && v > 0 ? v
        : throw new ArgumentException($"BufferActors:{key} must be a positive integer, not '{text}'");
}
