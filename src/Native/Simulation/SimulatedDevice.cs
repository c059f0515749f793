namespace BufferActors.Native.Simulation;

/// <summary>
/// A device driver of the backend domain (a display controller, a camera, a GPU): it attaches to
/// dma-bufs it is handed and allocates buffers of its own for import. Its attachments belong to the
/// device, not to a process, so they outlive the process that passed the fd, as in the kernel.
/// </summary>
public sealed class SimulatedDevice : IDmaBufExporter
{
    private readonly XenSimulator _sim;

    internal SimulatedDevice(XenSimulator sim, string name)
    {
        _sim = sim;
        Name = name;
    }

    /// <summary>Device name.</summary>
    public string Name { get; }

    /// <summary>dma_buf_get(fd) + dma_buf_attach: attaches to the dma-buf <paramref name="fd"/> of <paramref name="process"/>.</summary>
    public DmaBufAttachment Attach(SimulatedProcess process, int fd)
    {
        using (_sim.Gate.Enter())
        {
            var buffer = process.DmaBufOf(fd);
            if (_sim.Faults.Hit(FaultSite.DeviceAttach, _sim.Kill) is { } fault)
                throw new GntdevException("dma_buf_attach", fault.Errno, "injected fault");
            return buffer.Attach(Name);
        }
    }

    /// <summary>
    /// Allocates a buffer in the backend domain's memory and installs an fd for it in <paramref name="process"/>.
    /// <paramref name="sizeBytes"/> and <paramref name="firstOffset"/> let tests build buffers that import must refuse.
    /// </summary>
    public int AllocateBuffer(SimulatedProcess process, int pages, DeviceMemoryKind kind = DeviceMemoryKind.System,
        int firstOffset = 0, long? sizeBytes = null)
    {
        if (pages <= 0) throw new GntdevException("dma_buf_export", Errno.EINVAL, $"page count {pages}");
        using (_sim.Gate.Enter())
        {
            var owner = _sim.Backend;
            uint first = owner.AllocatePages(pages);
            var frames = new uint[pages];
            for (int i = 0; i < pages; i++) frames[i] = first + (uint)i;
            var buffer = _sim.CreateDmaBuf(owner, frames, sizeBytes ?? (long)pages * PageView.PageSize, firstOffset, kind,
                isGntdevExport: false, exporter: this);
            buffer.Get();
            return process.Install(buffer);
        }
    }

    /// <inheritdoc />
    // The device's pages are one run, from the buffer's first frame (AllocatePages above).
    void IDmaBufExporter.Released(DmaBuf buffer) => _sim.FreeDevicePages(buffer, buffer.Frames[0]);
}
