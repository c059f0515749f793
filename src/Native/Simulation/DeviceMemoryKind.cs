namespace BufferActors.Native.Simulation;

/// <summary>What backs a device-allocated buffer.</summary>
public enum DeviceMemoryKind
{
    /// <summary>Ordinary system memory: can be granted to a domain.</summary>
    System,
    /// <summary>Device memory (VRAM): has no struct page, import refuses it with EINVAL.</summary>
    Vram,
}
