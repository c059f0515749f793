namespace BufferActors.Native.Simulation;

/// <summary>
/// A simulated dma-buf: a run of pages with a file reference count. Every fd (and dup), every
/// device attachment and every import holds one reference; when the last one goes the buffer is
/// released and its exporter's release runs (for gntdev exports: unmap, restore reservation, wake waiters).
/// </summary>
public sealed class DmaBuf
{
    private readonly XenSimulator _sim;
    private readonly IDmaBufExporter _exporter;
    private readonly List<DmaBufAttachment> _attachments = [];
    private int _refs;

    internal DmaBuf(XenSimulator sim, long id, SimulatedDomain pageOwner, uint[] frames, long sizeBytes, int firstOffset,
        DeviceMemoryKind kind, bool isGntdevExport, IDmaBufExporter exporter, object? exporterState)
    {
        _sim = sim;
        Id = id;
        PageOwner = pageOwner;
        Frames = frames;
        SizeBytes = sizeBytes;
        FirstOffset = firstOffset;
        Kind = kind;
        IsGntdevExport = isGntdevExport;
        _exporter = exporter;
        ExporterState = exporterState;
    }

    /// <summary>What the exporter keeps with the buffer for its release (its export), if anything.</summary>
    internal object? ExporterState { get; }

    /// <summary>Stable identity (fd numbers are reused; this is not).</summary>
    public long Id { get; }

    /// <summary>The domain whose memory holds the pages.</summary>
    public SimulatedDomain PageOwner { get; }

    internal uint[] Frames { get; }

    /// <summary>Size in bytes.</summary>
    public long SizeBytes { get; }

    /// <summary>Byte offset of the first scatter-gather segment.</summary>
    public int FirstOffset { get; }

    /// <summary>What backs the pages.</summary>
    public DeviceMemoryKind Kind { get; }

    /// <summary>True for buffers created by DMABUF_EXP_FROM_REFS (their pages are foreign mappings).</summary>
    public bool IsGntdevExport { get; }

    /// <summary>True once the last reference went and the exporter released it.</summary>
    public bool IsReleased { get; private set; }

    /// <summary>Current file references (fds, attachments, importers, deferred-grant pins).</summary>
    public int References { get { using (_sim.Gate.Enter()) return _refs; } }

    /// <summary>Live attachments.</summary>
    public IReadOnlyList<DmaBufAttachment> Attachments { get { using (_sim.Gate.Enter()) return [.. _attachments]; } }

    /// <summary>Number of pages.</summary>
    public int PageCount => Frames.Length;

    /// <summary>CPU view of the pages: the very bytes of <see cref="PageOwner"/>'s frames (no copy).</summary>
    public PageView CpuView() => new FramePageView(PageOwner.Memory, Frames);

    internal void Get()
    {
        if (IsReleased) throw new InvalidOperationException($"dma-buf {Id} used after release");
        _refs++;
    }

    internal void Put()
    {
        if (_refs <= 0) throw new InvalidOperationException($"dma-buf {Id} reference count underflow");
        if (--_refs > 0) return;
        if (_attachments.Count > 0)
            _sim.Violation($"dma-buf {Id} released with {_attachments.Count} attachment(s) still present");
        IsReleased = true;
        _sim.DmaBufReleased(this);
        _exporter.Released(this);
    }

    internal DmaBufAttachment Attach(string owner)
    {
        Get();
        var attachment = new DmaBufAttachment(_sim, this, owner);
        _attachments.Add(attachment);
        _sim.AttachmentCountChanged(+1);
        return attachment;
    }

    internal void Detached(DmaBufAttachment attachment)
    {
        _attachments.Remove(attachment);
        _sim.AttachmentCountChanged(-1);
        Put();
    }

    internal bool AnyAttachmentMapped() => _attachments.Exists(a => a.IsMapped);
}

/// <summary>
/// Whoever exported a <see cref="DmaBuf"/>: told once when its last reference goes (gntdev: unmap, restore the
/// reservation, wake waiters). An interface the exporter implements once rather than a closure per buffer: with
/// 100,000 buffers live, a delegate and its closure would be ~120 B of each (docs/performance.md, "Scale").
/// </summary>
internal interface IDmaBufExporter
{
    /// <summary>The last reference to <paramref name="buffer"/> is gone.</summary>
    void Released(DmaBuf buffer);
}
