namespace BufferActors.Native.Simulation;

/// <summary>Pages of a domain's memory listed by frame: the CPU view of a grant map or a dma-buf.</summary>
internal sealed class FramePageView(DomainMemory memory, uint[] frames, bool readOnly = false) : PageView(readOnly)
{
    public override int PageCount => frames.Length;

    protected override Span<byte> Bytes(int index) => memory.Page(frames[index]);
}
