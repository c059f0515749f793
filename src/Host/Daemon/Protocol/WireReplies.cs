using System.Text;

namespace BufferActors.Host.Daemon.Protocol;

/// <summary><c>HELLO_OK</c>: the version both speak, the device, the features granted and the connection's limits.</summary>
public sealed record HelloOk(ushort Version, WireDevice Device, WireCapabilities Capabilities, uint MaxPayload, uint MaxInFlight, uint Uid) : WireMessage
{
    /// <inheritdoc />
    public override WireOpcode Opcode => WireOpcode.HelloOk;

    /// <inheritdoc />
    public override void Write(WireWriter w) => w.U16(Version).U16((ushort)Device).U32((uint)Capabilities).U32(MaxPayload).U32(MaxInFlight).U32(Uid).U32(0);

    internal static HelloOk Read(ref WireReader r)
    {
        var hello = new HelloOk(r.U16(), (WireDevice)r.U16(), (WireCapabilities)r.U32(), r.U32(), r.U32(), r.U32());
        r.Reserved(4);
        return hello;
    }
}

/// <summary><c>EXPORTED</c>: the export's handle; the dma-buf's descriptor travels with the frame.</summary>
public sealed record ExportedReply(ulong Handle, uint PageCount, uint Flags) : WireMessage
{
    /// <inheritdoc />
    public override WireOpcode Opcode => WireOpcode.Exported;

    /// <inheritdoc />
    public override byte FdCount => 1;

    /// <inheritdoc />
    public override void Write(WireWriter w) => w.U64(Handle).U32(PageCount).U32(Flags);

    internal static ExportedReply Read(ref WireReader r) => new(r.U64(), r.U32(), r.U32());
}

/// <summary>
/// A reply of one handle and two 32-bit fields: <c>RELEASE_ACCEPTED</c> (both 0), <c>WAIT_RESULT</c> (the result, 0),
/// <c>IMPORT_RELEASED</c> (the deferred refs, 0).
/// </summary>
public sealed record HandleReply(WireOpcode Reply, ulong Handle, uint Value = 0) : WireMessage
{
    /// <summary>The opcodes whose payload is a handle and two <c>u32</c>s.</summary>
    public static readonly WireOpcode[] Opcodes = [WireOpcode.ReleaseAccepted, WireOpcode.WaitResult, WireOpcode.ImportReleased];

    /// <summary><c>WAIT_RESULT</c>: released.</summary>
    public const uint Released = 0;

    /// <summary><c>WAIT_RESULT</c>: timed out.</summary>
    public const uint TimedOut = 1;

    /// <summary><c>WAIT_RESULT</c>: the lifecycle is over (released).</summary>
    public const uint NotFound = 2;

    /// <inheritdoc />
    public override WireOpcode Opcode => Reply;

    /// <inheritdoc />
    public override void Write(WireWriter w) => w.U64(Handle).U32(Value).U32(0);

    internal static HandleReply Read(WireOpcode opcode, ref WireReader r)
    {
        var reply = new HandleReply(opcode, r.U64(), r.U32());
        r.Reserved(4);
        return reply;
    }
}

/// <summary><c>IMPORTED</c>: the import's handle and the refs of the granted pages.</summary>
public sealed record ImportedReply(ulong Handle, uint[] Refs) : WireMessage
{
    /// <inheritdoc />
    public override WireOpcode Opcode => WireOpcode.Imported;

    /// <inheritdoc />
    public override void Write(WireWriter w) => w.U64(Handle).Refs(Refs);

    internal static ImportedReply Read(ref WireReader r) => new(r.U64(), r.Refs(min: 1));
}

/// <summary><c>MAPPED</c>: the map's handle; a descriptor holding only this map travels with the frame.</summary>
public sealed record MappedReply(ulong Handle, uint PageCount, ulong MmapOffset) : WireMessage
{
    /// <inheritdoc />
    public override WireOpcode Opcode => WireOpcode.Mapped;

    /// <inheritdoc />
    public override byte FdCount => 1;

    /// <inheritdoc />
    public override void Write(WireWriter w) => w.U64(Handle).U32(PageCount).U32(0).U64(MmapOffset);

    internal static MappedReply Read(ref WireReader r)
    {
        ulong handle = r.U64();
        uint pages = r.U32();
        r.Reserved(4);
        return new(handle, pages, r.U64());
    }
}

/// <summary><c>UNMAPPED</c>.</summary>
public sealed record UnmappedReply(ulong Handle) : WireMessage
{
    /// <inheritdoc />
    public override WireOpcode Opcode => WireOpcode.Unmapped;

    /// <inheritdoc />
    public override void Write(WireWriter w) => w.U64(Handle);

    internal static UnmappedReply Read(ref WireReader r) => new(r.U64());
}

/// <summary><c>STATUS</c>: one lifecycle of the connection.</summary>
public sealed record StatusReply(ulong Handle, WireKind Kind, WireState State, bool Quarantined, ushort Domid, uint PageCount) : WireMessage
{
    /// <inheritdoc />
    public override WireOpcode Opcode => WireOpcode.Status;

    /// <inheritdoc />
    public override void Write(WireWriter w) =>
        w.U64(Handle).U8((byte)Kind).U8((byte)State).U8(Quarantined ? (byte)1 : (byte)0).U8(0).U16(Domid).U16(0).U32(PageCount).U32(0);

    internal static StatusReply Read(ref WireReader r)
    {
        ulong handle = r.U64();
        var kind = (WireKind)r.U8();
        var state = (WireState)r.U8();
        byte quarantined = r.U8();
        if (quarantined > 1) throw new ProtocolViolationException($"STATUS: quarantined is {quarantined}, not 0 or 1");
        r.Reserved(1);
        ushort domid = r.U16();
        r.Reserved(2);
        uint pages = r.U32();
        r.Reserved(4);
        return new(handle, kind, state, quarantined == 1, domid, pages);
    }
}

/// <summary><c>SUBSCRIBED</c>: the events that will be sent.</summary>
public sealed record SubscribedReply(WireEvents Events) : WireMessage
{
    /// <inheritdoc />
    public override WireOpcode Opcode => WireOpcode.Subscribed;

    /// <inheritdoc />
    public override void Write(WireWriter w) => w.U32((uint)Events);

    internal static SubscribedReply Read(ref WireReader r) => new((WireEvents)r.U32());
}

/// <summary><c>ERROR</c>: a refused request; nothing changed.</summary>
public sealed record ErrorReply(WireErrorCode Code, int Errno, short GrantStatus, string Message) : WireMessage
{
    /// <summary>The longest message, in UTF-8 bytes.</summary>
    public const int MaxMessageBytes = 1024;

    /// <inheritdoc />
    public override WireOpcode Opcode => WireOpcode.Error;

    /// <inheritdoc />
    public override void Write(WireWriter w)
    {
        var text = Utf8(Message, MaxMessageBytes);
        w.U32((uint)Code).I32(Errno).I16(GrantStatus).U16((ushort)text.Length).Bytes(text);
    }

    internal static ErrorReply Read(ref WireReader r)
    {
        var code = (WireErrorCode)r.U32();
        int errno = r.I32();
        short status = r.I16();
        int length = r.U16();
        if (length > MaxMessageBytes) throw new ProtocolViolationException($"ERROR: a {length}-byte message exceeds {MaxMessageBytes}");
        return new(code, errno, status, Encoding.UTF8.GetString(r.Bytes(length)));
    }

    /// <summary>The UTF-8 of <paramref name="text"/>, cut at a character boundary to at most <paramref name="max"/> bytes.</summary>
    internal static byte[] Utf8(string text, int max)
    {
        var bytes = Encoding.UTF8.GetBytes(text);
        if (bytes.Length <= max) return bytes;
        int cut = max;
        while (cut > 0 && (bytes[cut] & 0xC0) == 0x80) cut--; // not inside a multi-byte character
        return bytes[..cut];
    }
}

/// <summary><c>GOODBYE</c>: the daemon's last frame on a connection.</summary>
public sealed record Goodbye(GoodbyeReason Reason, string Message) : WireMessage
{
    /// <inheritdoc />
    public override WireOpcode Opcode => WireOpcode.Goodbye;

    /// <inheritdoc />
    public override void Write(WireWriter w)
    {
        var text = ErrorReply.Utf8(Message, ErrorReply.MaxMessageBytes);
        w.U32((uint)Reason).U16((ushort)text.Length).U16(0).Bytes(text);
    }

    internal static Goodbye Read(ref WireReader r)
    {
        var reason = (GoodbyeReason)r.U32();
        int length = r.U16();
        r.Reserved(2);
        if (length > ErrorReply.MaxMessageBytes) throw new ProtocolViolationException($"GOODBYE: a {length}-byte message exceeds {ErrorReply.MaxMessageBytes}");
        return new(reason, Encoding.UTF8.GetString(r.Bytes(length)));
    }
}

/// <summary><c>DAEMON_STATUS_REPORT</c>: the daemon's counts as one UTF-8 JSON document, the whole payload.</summary>
public sealed record DaemonStatusReport(string Json) : WireMessage
{
    /// <inheritdoc />
    public override WireOpcode Opcode => WireOpcode.DaemonStatusReport;

    /// <inheritdoc />
    public override void Write(WireWriter w) => w.Bytes(Encoding.UTF8.GetBytes(Json));

    internal static DaemonStatusReport Read(ref WireReader r) => new(Encoding.UTF8.GetString(r.Rest()));
}

/// <summary>
/// <c>DOMAIN_RELEASED</c>: whether the domain was already known dead, and the lifecycles (and their pages) of it still
/// live — exports a device holds, lifecycles still ending — tracked apart until they end.
/// </summary>
public sealed record DomainReleasedReply(ushort Domid, bool WasDead, uint Lifecycles, ulong Pages) : WireMessage
{
    /// <inheritdoc />
    public override WireOpcode Opcode => WireOpcode.DomainReleased;

    /// <inheritdoc />
    public override void Write(WireWriter w) => w.U16(Domid).U8(WasDead ? (byte)1 : (byte)0).U8(0).U32(Lifecycles).U64(Pages);

    internal static DomainReleasedReply Read(ref WireReader r)
    {
        ushort domid = r.U16();
        byte wasDead = r.U8();
        if (wasDead > 1) throw new ProtocolViolationException($"DOMAIN_RELEASED: was_dead is {wasDead}, not 0 or 1");
        r.Reserved(1);
        return new(domid, wasDead == 1, r.U32(), r.U64());
    }
}
