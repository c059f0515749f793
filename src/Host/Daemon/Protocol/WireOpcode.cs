namespace BufferActors.Host.Daemon.Protocol;

/// <summary>
/// The opcodes of protocol version 1 (docs/protocol.md): requests <c>0x0001</c>–<c>0x00FF</c>, each reply its
/// request's opcode with <see cref="ReplyBit"/> set, <see cref="Error"/> for any refused request, events
/// <c>0x4001</c>–<c>0x40FF</c>, and <see cref="Goodbye"/> before the daemon closes a connection.
/// </summary>
public enum WireOpcode : ushort
{
    /// <summary>Version and capability negotiation; the first frame of a connection.</summary>
    Hello = 0x0001,
    /// <summary>A dma-buf from a frontend's grant refs.</summary>
    Export = 0x0002,
    /// <summary>The daemon gives up its reference to an export.</summary>
    Release = 0x0003,
    /// <summary>Wait until an export is released.</summary>
    WaitReleased = 0x0004,
    /// <summary>A device's dma-buf granted to a frontend (carries the dma-buf's descriptor).</summary>
    Import = 0x0005,
    /// <summary>End an import's grants.</summary>
    ReleaseImport = 0x0006,
    /// <summary>Frontend refs mapped for CPU access.</summary>
    Map = 0x0007,
    /// <summary>End a map.</summary>
    Unmap = 0x0008,
    /// <summary>One lifecycle's state.</summary>
    Query = 0x0009,
    /// <summary>Which events the connection wants.</summary>
    Subscribe = 0x000A,
    /// <summary>The daemon's counts (needs the daemon-status capability).</summary>
    DaemonStatus = 0x000B,
    /// <summary>An operator's word that a frontend domain was destroyed (needs the release-domain capability).</summary>
    ReleaseDomain = 0x000C,

    /// <summary>Set on a request's opcode to make its reply's.</summary>
    ReplyBit = 0x8000,
    /// <summary>The reply to <see cref="Hello"/>.</summary>
    HelloOk = 0x8001,
    /// <summary>The reply to <see cref="Export"/> (carries the dma-buf's descriptor).</summary>
    Exported = 0x8002,
    /// <summary>The reply to <see cref="Release"/>.</summary>
    ReleaseAccepted = 0x8003,
    /// <summary>The reply to <see cref="WaitReleased"/>.</summary>
    WaitResult = 0x8004,
    /// <summary>The reply to <see cref="Import"/>.</summary>
    Imported = 0x8005,
    /// <summary>The reply to <see cref="ReleaseImport"/>.</summary>
    ImportReleased = 0x8006,
    /// <summary>The reply to <see cref="Map"/> (carries a descriptor holding the map).</summary>
    Mapped = 0x8007,
    /// <summary>The reply to <see cref="Unmap"/>.</summary>
    Unmapped = 0x8008,
    /// <summary>The reply to <see cref="Query"/>.</summary>
    Status = 0x8009,
    /// <summary>The reply to <see cref="Subscribe"/>.</summary>
    Subscribed = 0x800A,
    /// <summary>The reply to <see cref="DaemonStatus"/>: a JSON document.</summary>
    DaemonStatusReport = 0x800B,
    /// <summary>The reply to <see cref="ReleaseDomain"/>.</summary>
    DomainReleased = 0x800C,
    /// <summary>The reply to a refused request.</summary>
    Error = 0x80FF,

    /// <summary>An export of the connection was released by the kernel.</summary>
    ReleasedEvent = 0x4001,
    /// <summary>Every grant of an import of the connection ended.</summary>
    AccessEndedEvent = 0x4002,
    /// <summary>A released export is still held after the quarantine time.</summary>
    QuarantinedEvent = 0x4003,
    /// <summary>A frontend domain the connection had lifecycles of died.</summary>
    FrontendDiedEvent = 0x4004,

    /// <summary>The daemon's last frame before it closes the connection.</summary>
    Goodbye = 0x7FFF,
}
