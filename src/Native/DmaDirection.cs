namespace BufferActors.Native;

/// <summary>Linux <c>enum dma_data_direction</c>.</summary>
public enum DmaDirection
{
    /// <summary>DMA_BIDIRECTIONAL.</summary>
    Bidirectional = 0,
    /// <summary>DMA_TO_DEVICE.</summary>
    ToDevice = 1,
    /// <summary>DMA_FROM_DEVICE.</summary>
    FromDevice = 2,
    /// <summary>DMA_NONE: the state of an attachment that was never mapped; mapping with it is EINVAL.</summary>
    None = 3,
}
