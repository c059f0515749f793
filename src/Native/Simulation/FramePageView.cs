namespace BufferActors.Native.Simulation;

/// <summary>Pages of a domain's memory listed by frame: the CPU view of a grant map or a dma-buf.</summary>
internal sealed class FramePageView(DomainMemory memory, uint[] frames) : PageView
{
    public override int PageCount => frames.Length;

    public override Span<byte> Page(int index) => memory.Page(frames[index]);
}
