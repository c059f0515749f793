namespace BufferActors.Native.Simulation;

/// <summary>
/// One importer's attachment to a <see cref="DmaBuf"/> (dma_buf_attach). It starts with direction
/// NONE; <see cref="Map"/> caches the first direction it is mapped with, like gntdev's exporter ops:
/// NONE is EINVAL, the cached direction returns the cached table, another direction is EBUSY.
/// Unmapping does nothing; the DMA unmap happens at <see cref="Detach"/>.
/// </summary>
public sealed class DmaBufAttachment
{
    private readonly XenSimulator _sim;

    internal DmaBufAttachment(XenSimulator sim, DmaBuf buffer, string owner)
    {
        _sim = sim;
        Buffer = buffer;
        Owner = owner;
    }

    /// <summary>The attached buffer.</summary>
    public DmaBuf Buffer { get; }

    /// <summary>Who attached (device name or "gntdev import").</summary>
    public string Owner { get; }

    /// <summary>The cached mapping direction; <see cref="DmaDirection.None"/> until first mapped.</summary>
    public DmaDirection Direction { get; private set; } = DmaDirection.None;

    /// <summary>True once mapped (until detached).</summary>
    public bool IsMapped => Direction != DmaDirection.None;

    /// <summary>True once detached.</summary>
    public bool IsDetached { get; private set; }

    /// <summary>map_dma_buf: maps the attachment for DMA in <paramref name="direction"/>.</summary>
    public void Map(DmaDirection direction)
    {
        using (_sim.Gate.Enter())
        {
            EnsureAttached("map_dma_buf");
            if (direction == DmaDirection.None)
                throw new GntdevException("map_dma_buf", Errno.EINVAL, "direction DMA_NONE");
            if (Direction == direction) return;
            if (Direction != DmaDirection.None)
                throw new GntdevException("map_dma_buf", Errno.EBUSY, $"attachment already mapped {Direction}, asked {direction}");
            if (_sim.Faults.Hit(FaultSite.DeviceMap, _sim.Kill) is { } fault)
                throw new GntdevException("map_dma_buf", fault.Errno, "injected fault");
            Direction = direction;
        }
    }

    /// <summary>unmap_dma_buf: a no-op for gntdev buffers; the table stays cached until detach.</summary>
    public void Unmap()
    {
        using (_sim.Gate.Enter()) EnsureAttached("unmap_dma_buf");
    }

    /// <summary>dma_buf_detach + dma_buf_put: unmaps the cached table and drops the buffer reference.</summary>
    public void Detach()
    {
        using (_sim.Gate.Enter())
        {
            EnsureAttached("dma_buf_detach");
            IsDetached = true;
            Direction = DmaDirection.None;
            Buffer.Detached(this);
        }
    }

    private void EnsureAttached(string op)
    {
        if (IsDetached) throw new GntdevException(op, Errno.EINVAL, $"attachment of dma-buf {Buffer.Id} is detached");
    }
}
