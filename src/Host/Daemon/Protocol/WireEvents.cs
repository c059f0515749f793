namespace BufferActors.Host.Daemon.Protocol;

/// <summary>An event about one lifecycle of the connection: <c>RELEASED</c>, <c>ACCESS_ENDED</c>.</summary>
public sealed record HandleEvent(WireOpcode Event, ulong Handle) : WireMessage
{
    /// <summary>The events whose payload is one handle.</summary>
    public static readonly WireOpcode[] Opcodes = [WireOpcode.ReleasedEvent, WireOpcode.AccessEndedEvent];

    /// <inheritdoc />
    public override WireOpcode Opcode => Event;

    /// <inheritdoc />
    public override void Write(WireWriter w) => w.U64(Handle);

    internal static HandleEvent Read(WireOpcode opcode, ref WireReader r) => new(opcode, r.U64());
}

/// <summary><c>QUARANTINED</c>: a released export still held after <paramref name="HeldMs"/>.</summary>
public sealed record QuarantinedEvent(ulong Handle, uint HeldMs) : WireMessage
{
    /// <inheritdoc />
    public override WireOpcode Opcode => WireOpcode.QuarantinedEvent;

    /// <inheritdoc />
    public override void Write(WireWriter w) => w.U64(Handle).U32(HeldMs).U32(0);

    internal static QuarantinedEvent Read(ref WireReader r)
    {
        var e = new QuarantinedEvent(r.U64(), r.U32());
        r.Reserved(4);
        return e;
    }
}

/// <summary><c>FRONTEND_DIED</c>: a frontend the connection had lifecycles of died; they are ending.</summary>
public sealed record FrontendDiedEvent(ushort Domid) : WireMessage
{
    /// <inheritdoc />
    public override WireOpcode Opcode => WireOpcode.FrontendDiedEvent;

    /// <inheritdoc />
    public override void Write(WireWriter w) => w.U16(Domid).U16(0).U32(0);

    internal static FrontendDiedEvent Read(ref WireReader r)
    {
        ushort domid = r.U16();
        r.Reserved(6);
        return new(domid);
    }
}
