namespace BufferActors.Host.Daemon.Protocol;

/// <summary><c>HELLO</c>: the versions the client speaks and the features it wants.</summary>
public sealed record Hello(ushort MinVersion, ushort MaxVersion, WireCapabilities Capabilities) : WireMessage
{
    /// <inheritdoc />
    public override WireOpcode Opcode => WireOpcode.Hello;

    /// <inheritdoc />
    public override void Write(WireWriter w) => w.U16(MinVersion).U16(MaxVersion).U32((uint)Capabilities);

    internal static Hello Read(ref WireReader r) => new(r.U16(), r.U16(), (WireCapabilities)r.U32());
}

/// <summary><c>EXPORT</c>: a dma-buf from <paramref name="Refs"/> of frontend <paramref name="Domid"/>.</summary>
public sealed record ExportRequest(ushort Domid, uint Flags, uint[] Refs) : WireMessage
{
    /// <inheritdoc />
    public override WireOpcode Opcode => WireOpcode.Export;

    /// <inheritdoc />
    public override void Write(WireWriter w) => w.U16(Domid).U16(0).U32(Flags).Refs(Refs);

    internal static ExportRequest Read(ref WireReader r)
    {
        ushort domid = r.U16();
        r.Reserved(2);
        uint flags = r.U32();
        return new(domid, flags, r.Refs(min: 1));
    }
}

/// <summary>A request naming one lifecycle by its handle: <c>RELEASE</c>, <c>RELEASE_IMPORT</c>, <c>UNMAP</c>, <c>QUERY</c>.</summary>
public sealed record HandleRequest(WireOpcode Request, ulong Handle) : WireMessage
{
    /// <summary>The opcodes whose payload is one handle.</summary>
    public static readonly WireOpcode[] Opcodes = [WireOpcode.Release, WireOpcode.ReleaseImport, WireOpcode.Unmap, WireOpcode.Query];

    /// <inheritdoc />
    public override WireOpcode Opcode => Request;

    /// <inheritdoc />
    public override void Write(WireWriter w) => w.U64(Handle);

    internal static HandleRequest Read(WireOpcode opcode, ref WireReader r) => new(opcode, r.U64());
}

/// <summary><c>WAIT_RELEASED</c>: answer once the export is released or <paramref name="TimeoutMs"/> passed.</summary>
public sealed record WaitReleasedRequest(ulong Handle, uint TimeoutMs) : WireMessage
{
    /// <summary>No time-out.</summary>
    public const uint Forever = uint.MaxValue;

    /// <inheritdoc />
    public override WireOpcode Opcode => WireOpcode.WaitReleased;

    /// <inheritdoc />
    public override void Write(WireWriter w) => w.U64(Handle).U32(TimeoutMs).U32(0);

    internal static WaitReleasedRequest Read(ref WireReader r)
    {
        var request = new WaitReleasedRequest(r.U64(), r.U32());
        r.Reserved(4);
        return request;
    }
}

/// <summary><c>IMPORT</c>: the dma-buf that travels with the frame, <paramref name="PageCount"/> pages granted to <paramref name="Domid"/>.</summary>
public sealed record ImportRequest(ushort Domid, uint PageCount) : WireMessage
{
    /// <inheritdoc />
    public override WireOpcode Opcode => WireOpcode.Import;

    /// <inheritdoc />
    public override byte FdCount => 1;

    /// <inheritdoc />
    public override void Write(WireWriter w) => w.U16(Domid).U16(0).U32(PageCount);

    internal static ImportRequest Read(ref WireReader r)
    {
        ushort domid = r.U16();
        r.Reserved(2);
        return new(domid, r.U32());
    }
}

/// <summary><c>MAP</c>: <paramref name="Refs"/> of <paramref name="Domid"/> mapped for CPU access.</summary>
public sealed record MapRequest(ushort Domid, ushort MapFlags, uint[] Refs) : WireMessage
{
    /// <summary><see cref="MapFlags"/>: map read-only.</summary>
    public const ushort ReadOnly = 0x1;

    /// <inheritdoc />
    public override WireOpcode Opcode => WireOpcode.Map;

    /// <inheritdoc />
    public override void Write(WireWriter w) => w.U16(Domid).U16(MapFlags).Refs(Refs);

    internal static MapRequest Read(ref WireReader r) => new(r.U16(), r.U16(), r.Refs(min: 1));
}

/// <summary><c>SUBSCRIBE</c>: the events the connection wants from now on.</summary>
public sealed record SubscribeRequest(WireEvents Events) : WireMessage
{
    /// <inheritdoc />
    public override WireOpcode Opcode => WireOpcode.Subscribe;

    /// <inheritdoc />
    public override void Write(WireWriter w) => w.U32((uint)Events);

    internal static SubscribeRequest Read(ref WireReader r) => new((WireEvents)r.U32());
}

/// <summary><c>DAEMON_STATUS</c>: the daemon's counts, for operators.</summary>
public sealed record DaemonStatusRequest : WireMessage
{
    /// <inheritdoc />
    public override WireOpcode Opcode => WireOpcode.DaemonStatus;

    /// <inheritdoc />
    public override void Write(WireWriter w)
    {
    }

    internal static DaemonStatusRequest Read(ref WireReader r) => new();
}

/// <summary>
/// <c>RELEASE_DOMAIN</c>: the operator says frontend <paramref name="Domid"/> was destroyed — its lifecycles end, and its
/// accounting is released (what a device still holds is tracked apart until it ends; the id serves a new domain).
/// </summary>
public sealed record ReleaseDomainRequest(ushort Domid) : WireMessage
{
    /// <inheritdoc />
    public override WireOpcode Opcode => WireOpcode.ReleaseDomain;

    /// <inheritdoc />
    public override void Write(WireWriter w) => w.U16(Domid).U16(0).U32(0);

    internal static ReleaseDomainRequest Read(ref WireReader r)
    {
        ushort domid = r.U16();
        r.Reserved(6);
        return new(domid);
    }
}
