namespace BufferActors.Host.Daemon.Protocol;

/// <summary>One frame's content: its opcode, how many descriptors travel with it, and its payload fields.</summary>
public abstract record WireMessage
{
    /// <summary>The frame's opcode.</summary>
    public abstract WireOpcode Opcode { get; }

    /// <summary>The descriptors the frame carries (0 or 1 in version 1).</summary>
    public virtual byte FdCount => 0;

    /// <summary>Writes the payload's fields, in the order docs/protocol.md gives.</summary>
    public abstract void Write(WireWriter w);
}

/// <summary>What the client wants, and the daemon grants, in the handshake.</summary>
[Flags]
public enum WireCapabilities : uint
{
    /// <summary>Nothing.</summary>
    None = 0,
    /// <summary><see cref="WireOpcode.Export"/> and its release and wait.</summary>
    Export = 0x1,
    /// <summary><see cref="WireOpcode.Import"/> and its release.</summary>
    Import = 0x2,
    /// <summary><see cref="WireOpcode.Map"/> and unmap.</summary>
    Map = 0x4,
    /// <summary><see cref="WireOpcode.Subscribe"/> and events.</summary>
    Events = 0x8,
    /// <summary>The daemon's status, for operators.</summary>
    DaemonStatus = 0x10,
    /// <summary><see cref="WireOpcode.ReleaseDomain"/>, for operators.</summary>
    ReleaseDomain = 0x20,
}

/// <summary>The events a connection subscribes to.</summary>
[Flags]
public enum WireEvents : uint
{
    /// <summary>None.</summary>
    None = 0,
    /// <summary><see cref="WireOpcode.ReleasedEvent"/>.</summary>
    Released = 0x1,
    /// <summary><see cref="WireOpcode.AccessEndedEvent"/>.</summary>
    AccessEnded = 0x2,
    /// <summary><see cref="WireOpcode.QuarantinedEvent"/>.</summary>
    Quarantined = 0x4,
    /// <summary><see cref="WireOpcode.FrontendDiedEvent"/>.</summary>
    FrontendDied = 0x8,
}

/// <summary>The device a daemon drives, as <see cref="HelloOk"/> names it.</summary>
public enum WireDevice : ushort
{
    /// <summary>The Linux gntdev.</summary>
    Linux = 1,
    /// <summary>The simulator.</summary>
    Simulator = 2,
}

/// <summary>A refused request's category (<see cref="ErrorReply"/>).</summary>
public enum WireErrorCode : uint
{
    /// <summary>The request's arguments are wrong.</summary>
    InvalidArgument = 1,
    /// <summary>No such lifecycle of this connection.</summary>
    NotFound = 2,
    /// <summary>The request does not fit the lifecycle's state.</summary>
    InvalidState = 3,
    /// <summary>A quota would be exceeded.</summary>
    QuotaExceeded = 4,
    /// <summary>The frontend domain is dead.</summary>
    DomainDead = 5,
    /// <summary>The device refused (see the errno).</summary>
    Device = 6,
    /// <summary>The journal failed; nothing is held.</summary>
    Journal = 7,
    /// <summary>The lifecycle stopped before it answered; nothing is held.</summary>
    Stopped = 8,
    /// <summary>The peer may not do this (a domain or capability not granted to its uid).</summary>
    NotPermitted = 9,
    /// <summary>No protocol version both sides speak.</summary>
    VersionMismatch = 10,
    /// <summary>Too many requests in flight.</summary>
    Busy = 11,
}

/// <summary>A lifecycle's kind in <see cref="StatusReply"/>.</summary>
public enum WireKind : byte
{
    /// <summary>A grant map.</summary>
    Map = 1,
    /// <summary>An exported dma-buf.</summary>
    Export = 2,
    /// <summary>An imported dma-buf granted to a frontend.</summary>
    Import = 3,
}

/// <summary>A lifecycle's state in <see cref="StatusReply"/> (docs/protocol.md, <c>QUERY</c>).</summary>
public enum WireState : byte
{
    /// <summary>Asked for.</summary>
    Requested = 1,
    /// <summary>An export exists.</summary>
    Exported = 2,
    /// <summary>Release asked for.</summary>
    Releasing = 3,
    /// <summary>The export's reference is given up; a holder keeps the buffer.</summary>
    AwaitingExternalRelease = 4,
    /// <summary>Released.</summary>
    Released = 5,
    /// <summary>An import's pages are granted.</summary>
    Granted = 6,
    /// <summary>Released with refs the frontend still maps.</summary>
    Deferred = 7,
    /// <summary>Every grant ended.</summary>
    AccessEnded = 8,
    /// <summary>Mapped.</summary>
    Mapped = 9,
    /// <summary>Unmapped.</summary>
    Unmapped = 10,
    /// <summary>Refused or failed.</summary>
    Failed = 11,
    /// <summary>Closed by a restart.</summary>
    Reclaimed = 12,
}

/// <summary>Why the daemon closes a connection (<see cref="Goodbye"/>).</summary>
public enum GoodbyeReason : uint
{
    /// <summary>The client broke the protocol.</summary>
    ProtocolError = 1,
    /// <summary>The daemon stops.</summary>
    Stopping = 2,
    /// <summary>The client stopped reading its replies.</summary>
    TooSlow = 3,
}
