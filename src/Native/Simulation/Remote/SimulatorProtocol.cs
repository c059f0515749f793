using System.Buffers.Binary;
using System.Text;

namespace BufferActors.Native.Simulation.Remote;

/// <summary>
/// The wire protocol between <see cref="RemoteGrantDevice"/> and <see cref="SimulatorServer"/>
/// (version <see cref="Version"/>), over an AF_UNIX stream socket. One connection is one simulated
/// backend process holding one open gntdev instance.
/// </summary>
/// <remarks>
/// <para><b>Framing.</b> Every message is a frame: <c>u32 length</c> (bytes that follow the length
/// field, at most <see cref="MaxFrameLength"/>), <c>u32 request id</c>, <c>u16 opcode</c>, then the
/// payload. All integers are little-endian. A string is <c>u16 byte count</c> + UTF-8 bytes. An array
/// of refs or frames is <c>u32 count</c> + <c>count × u32</c>; the count must match the bytes that
/// follow exactly.</para>
/// <para><b>Requests</b> carry a client-chosen id ≥ 1 and an opcode of <see cref="SimulatorOpcode"/>.
/// The first request of a connection must be <see cref="SimulatorOpcode.Hello"/>; it opens the
/// connection's gntdev instance. The server executes a connection's requests in arrival order, except
/// WaitReleased, which runs alongside the others so that a blocked wait does not hold up the request
/// that ends it; responses may therefore come back out of order, matched by request id.</para>
/// <para><b>Responses</b> carry the request's id and its opcode with <see cref="ResponseFlag"/> set,
/// then <c>i32 errno</c> (0 = success, else the Linux errno), <c>u8 flags</c> (bit 0: a GNTST status
/// is present, bit 1: a failed page index is present), <c>i16 GNTST status</c>, <c>i32 failed page</c>,
/// <c>string operation</c> (the failing ioctl's name), <c>string detail</c> (why), and on success the
/// opcode's result payload.</para>
/// <para><b>Descriptors.</b> Only the MapGrantRefs response carries one: the granting domain's memfd,
/// as SCM_RIGHTS on the frame's first byte, which the client mmaps MAP_SHARED so its mapping aliases
/// the frontend's pages (zero copy). dma-buf "fds" in payloads are descriptor numbers in the simulated
/// process, never real descriptors. Requests carrying descriptors are refused (EINVAL).</para>
/// <para><b>Opcodes</b> (request payload → success payload):</para>
/// <list type="table">
/// <item><term>1 Hello</term><description>u16 version → u16 version, i32 page limit, i32 simulated pid, string process name</description></item>
/// <item><term>2 MapGrantRefs</term><description>u16 domid, u8 readOnly (0|1), refs[] → u64 index, frames[] + memfd (SCM_RIGHTS)</description></item>
/// <item><term>3 UnmapGrantRefs</term><description>u64 index → (empty)</description></item>
/// <item><term>4 ExportDmaBuf</term><description>u32 flags, u16 domid, refs[] → i32 fd</description></item>
/// <item><term>5 WaitReleased</term><description>i32 fd, u32 timeout ms → u8 result (0 released, 1 timed out, 2 not found)</description></item>
/// <item><term>6 ImportDmaBuf</term><description>i32 fd, i32 count, u16 domid → refs[]</description></item>
/// <item><term>7 ReleaseImport</term><description>i32 fd → (empty)</description></item>
/// <item><term>8 CloseFd</term><description>i32 fd → (empty)</description></item>
/// <item><term>9 DeviceAttach</term><description>string device, i32 fd → u64 attachment id (owned by the device: it outlives the connection)</description></item>
/// <item><term>10 DeviceDetach</term><description>u64 attachment id → (empty)</description></item>
/// <item><term>11 DeviceAllocateBuffer</term><description>string device, i32 pages → i32 fd</description></item>
/// <item><term>13 DuplicateFd</term><description>i32 fd → i32 fd</description></item>
/// <item><term>14 ReplaceWithPlaceholder</term><description>i32 fd → (empty)</description></item>
/// <item><term>15 PendingEndAccess</term><description>refs[] → refs[] (those of the backend's refs whose end of access is deferred)</description></item>
/// <item><term>12 Ledger</term><description>(empty) → i32 Maps, MappedGrants, GrantedRefs, DmaBufs, Attachments, OpenFds, Exports, Imports; i64 ReservationPages; i32 DeferredRefs; i64 OldestDeferredTicks; string ReservationByDomain</description></item>
/// </list>
/// <para><b>Malformed input.</b> An unknown opcode, a request id of 0, a payload shorter or longer than
/// its fields, an array count that does not match the bytes, a bad flag byte or invalid UTF-8 gets an
/// EINVAL response with a detail and changes nothing. When the framing itself is broken (length below
/// <see cref="RequestHeaderLength"/> or above <see cref="MaxFrameLength"/>) the server answers with
/// request id 0 and closes the connection; so does a frame cut short by end of stream. A closed
/// connection exits its simulated process like a killed process (maps torn down, fds closed).</para>
/// </remarks>
public static class SimulatorProtocol
{
    /// <summary>The protocol version this build speaks; Hello with any other version is refused.</summary>
    public const ushort Version = 1;

    /// <summary>Size of the length prefix.</summary>
    public const int LengthPrefixSize = 4;

    /// <summary>Bytes every request has after the length prefix: u32 request id + u16 opcode.</summary>
    public const int RequestHeaderLength = 6;

    /// <summary>Bytes every response has after the length prefix, before its strings and payload.</summary>
    public const int ResponseFixedLength = 4 + 2 + 4 + 1 + 2 + 4;

    /// <summary>Largest frame, counted after the length prefix: room for 64Ki refs with plenty to spare.</summary>
    public const int MaxFrameLength = 1 << 20;

    /// <summary>Set in a response's opcode field.</summary>
    public const ushort ResponseFlag = 0x8000;

    /// <summary>Longest device name, in UTF-8 bytes.</summary>
    public const int MaxDeviceNameBytes = 255;

    /// <summary>Response flag bit: the GNTST status field is meaningful.</summary>
    internal const byte HasGrantStatus = 1;

    /// <summary>Response flag bit: the failed-page field is meaningful.</summary>
    internal const byte HasFailedPage = 2;

    /// <summary>True for the opcodes of this version.</summary>
    public static bool IsKnown(SimulatorOpcode opcode) => opcode is >= SimulatorOpcode.Hello and <= SimulatorOpcode.PendingEndAccess;

    /// <summary>The operation name errors of <paramref name="opcode"/> carry: the ioctl (or kernel call) it stands for.</summary>
    public static string OperationName(SimulatorOpcode opcode) => opcode switch
    {
        SimulatorOpcode.Hello => "open",
        SimulatorOpcode.MapGrantRefs => "MAP_GRANT_REF",
        SimulatorOpcode.UnmapGrantRefs => "UNMAP_GRANT_REF",
        SimulatorOpcode.ExportDmaBuf => "DMABUF_EXP_FROM_REFS",
        SimulatorOpcode.WaitReleased => "DMABUF_EXP_WAIT_RELEASED",
        SimulatorOpcode.ImportDmaBuf => "DMABUF_IMP_TO_REFS",
        SimulatorOpcode.ReleaseImport => "DMABUF_IMP_RELEASE",
        SimulatorOpcode.PendingEndAccess => "gnttab_query_foreign_access",
        SimulatorOpcode.CloseFd => "close",
        SimulatorOpcode.DeviceAttach => "dma_buf_attach",
        SimulatorOpcode.DeviceDetach => "dma_buf_detach",
        SimulatorOpcode.DeviceAllocateBuffer => "dma_buf_export",
        SimulatorOpcode.Ledger => "ledger",
        SimulatorOpcode.DuplicateFd => "dup",
        SimulatorOpcode.ReplaceWithPlaceholder => "dup3",
        _ => "simulator frame",
    };
}

/// <summary>Request opcodes of <see cref="SimulatorProtocol"/> version 1.</summary>
public enum SimulatorOpcode : ushort
{
    /// <summary>Not an opcode: used in connection-level error responses (request id 0).</summary>
    None = 0,
    /// <summary>Version handshake; opens the connection's gntdev instance.</summary>
    Hello = 1,
    /// <summary><see cref="IGrantDevice.MapGrantRefs"/>.</summary>
    MapGrantRefs = 2,
    /// <summary><see cref="IGrantDevice.UnmapGrantRefs"/>.</summary>
    UnmapGrantRefs = 3,
    /// <summary><see cref="IGrantDevice.ExportDmaBuf"/>.</summary>
    ExportDmaBuf = 4,
    /// <summary><see cref="IGrantDevice.WaitReleased"/>.</summary>
    WaitReleased = 5,
    /// <summary><see cref="IGrantDevice.ImportDmaBuf"/>.</summary>
    ImportDmaBuf = 6,
    /// <summary><see cref="IGrantDevice.ReleaseImport"/>.</summary>
    ReleaseImport = 7,
    /// <summary><see cref="IGrantDevice.CloseFd"/>.</summary>
    CloseFd = 8,
    /// <summary>A simulated device attaches to a dma-buf of the connection's process.</summary>
    DeviceAttach = 9,
    /// <summary>A device attachment is detached.</summary>
    DeviceDetach = 10,
    /// <summary>A simulated device allocates a buffer and installs its fd in the connection's process.</summary>
    DeviceAllocateBuffer = 11,
    /// <summary>The simulator's <see cref="SimulatorLedger"/>.</summary>
    Ledger = 12,
    /// <summary><see cref="IGrantDevice.DuplicateFd"/>.</summary>
    DuplicateFd = 13,
    /// <summary><see cref="IGrantDevice.ReplaceWithPlaceholder"/>.</summary>
    ReplaceWithPlaceholder = 14,
    /// <summary><see cref="IGrantDevice.PendingEndAccess"/>.</summary>
    PendingEndAccess = 15,
}

/// <summary>The bytes of a frame do not match the protocol; the connection answers EINVAL.</summary>
internal sealed class ProtocolException(string message) : Exception(message);

/// <summary>Builds one frame: length prefix (patched at the end), header, then fields.</summary>
internal sealed class FrameWriter
{
    private static readonly UTF8Encoding Utf8 = new(false, true);
    private byte[] _buffer = new byte[128];
    private int _length;

    private FrameWriter() => _length = SimulatorProtocol.LengthPrefixSize;

    /// <summary>Starts a request frame.</summary>
    public static FrameWriter Request(uint id, SimulatorOpcode opcode) => new FrameWriter().U32(id).U16((ushort)opcode);

    /// <summary>Starts a successful response; the payload follows.</summary>
    public static FrameWriter Success(uint id, SimulatorOpcode opcode) =>
        new FrameWriter().U32(id).U16((ushort)((ushort)opcode | SimulatorProtocol.ResponseFlag))
            .I32(0).U8(0).I16(0).I32(0).Str("").Str("");

    /// <summary>A complete error response.</summary>
    public static FrameWriter Failure(uint id, SimulatorOpcode opcode, string operation, Errno errno, string detail,
        GrantStatus? status = null, int? failedPage = null)
    {
        byte flags = (byte)((status is null ? 0 : SimulatorProtocol.HasGrantStatus) | (failedPage is null ? 0 : SimulatorProtocol.HasFailedPage));
        return new FrameWriter().U32(id).U16((ushort)((ushort)opcode | SimulatorProtocol.ResponseFlag))
            .I32((int)errno).U8(flags).I16((short)(status ?? 0)).I32(failedPage ?? 0)
            .Str(operation, truncate: true).Str(detail, truncate: true);
    }

    /// <summary>Bytes after the length prefix written so far.</summary>
    public int FrameLength => _length - SimulatorProtocol.LengthPrefixSize;

    /// <summary>The frame's request id.</summary>
    public uint RequestId => BinaryPrimitives.ReadUInt32LittleEndian(_buffer.AsSpan(4));

    /// <summary>The frame's opcode, without the response flag.</summary>
    public SimulatorOpcode Opcode => (SimulatorOpcode)(BinaryPrimitives.ReadUInt16LittleEndian(_buffer.AsSpan(8)) & ~SimulatorProtocol.ResponseFlag);

    /// <summary>A descriptor to send with the frame as SCM_RIGHTS (the sender keeps its own copy), or -1.</summary>
    public int Descriptor { get; private set; } = -1;

    /// <summary>Attaches <paramref name="fd"/> to the frame.</summary>
    public FrameWriter WithDescriptor(int fd)
    {
        Descriptor = fd;
        return this;
    }

    public FrameWriter U8(byte value) { Reserve(1)[0] = value; return this; }
    public FrameWriter U16(ushort value) { BinaryPrimitives.WriteUInt16LittleEndian(Reserve(2), value); return this; }
    public FrameWriter I16(short value) { BinaryPrimitives.WriteInt16LittleEndian(Reserve(2), value); return this; }
    public FrameWriter U32(uint value) { BinaryPrimitives.WriteUInt32LittleEndian(Reserve(4), value); return this; }
    public FrameWriter I32(int value) { BinaryPrimitives.WriteInt32LittleEndian(Reserve(4), value); return this; }
    public FrameWriter U64(ulong value) { BinaryPrimitives.WriteUInt64LittleEndian(Reserve(8), value); return this; }
    public FrameWriter I64(long value) { BinaryPrimitives.WriteInt64LittleEndian(Reserve(8), value); return this; }

    /// <summary>u32 count + the values.</summary>
    public FrameWriter U32Array(ReadOnlySpan<uint> values)
    {
        U32((uint)values.Length);
        var span = Reserve(checked(values.Length * 4));
        for (int i = 0; i < values.Length; i++) BinaryPrimitives.WriteUInt32LittleEndian(span[(i * 4)..], values[i]);
        return this;
    }

    /// <summary>u16 byte count + UTF-8. Diagnostics are cut to fit; names that do not fit are the caller's error.</summary>
    public FrameWriter Str(string value, bool truncate = false)
    {
        var bytes = Encoding.UTF8.GetBytes(value);
        if (bytes.Length > ushort.MaxValue)
        {
            if (!truncate) throw new ArgumentException($"string of {bytes.Length} bytes does not fit a u16 length", nameof(value));
            // Cut on a character boundary so the receiver's strict decoder accepts it.
            int cut = ushort.MaxValue;
            while (cut > 0 && (bytes[cut] & 0xC0) == 0x80) cut--;
            bytes = bytes[..cut];
        }
        U16((ushort)bytes.Length);
        bytes.CopyTo(Reserve(bytes.Length));
        return this;
    }

    /// <summary>Patches the length prefix and returns the whole frame.</summary>
    public ReadOnlyMemory<byte> Complete()
    {
        if (FrameLength > SimulatorProtocol.MaxFrameLength)
            throw new ProtocolException($"frame of {FrameLength} bytes exceeds the protocol maximum of {SimulatorProtocol.MaxFrameLength}");
        BinaryPrimitives.WriteUInt32LittleEndian(_buffer, (uint)FrameLength);
        return _buffer.AsMemory(0, _length);
    }

    internal static string Decode(ReadOnlySpan<byte> bytes) => Utf8.GetString(bytes);

    private Span<byte> Reserve(int count)
    {
        if (_length + count > _buffer.Length) Array.Resize(ref _buffer, Math.Max(_buffer.Length * 2, _length + count));
        var span = _buffer.AsSpan(_length, count);
        _length += count;
        return span;
    }
}

/// <summary>Reads the fields of one frame body; every shortfall or excess is a <see cref="ProtocolException"/> naming the field.</summary>
internal ref struct FrameReader(ReadOnlySpan<byte> data)
{
    private readonly ReadOnlySpan<byte> _data = data;
    private int _position;

    /// <summary>Bytes not read yet.</summary>
    public readonly int Remaining => _data.Length - _position;

    public byte U8(string field) => Take(1, field)[0];
    public ushort U16(string field) => BinaryPrimitives.ReadUInt16LittleEndian(Take(2, field));
    public short I16(string field) => BinaryPrimitives.ReadInt16LittleEndian(Take(2, field));
    public uint U32(string field) => BinaryPrimitives.ReadUInt32LittleEndian(Take(4, field));
    public int I32(string field) => BinaryPrimitives.ReadInt32LittleEndian(Take(4, field));
    public ulong U64(string field) => BinaryPrimitives.ReadUInt64LittleEndian(Take(8, field));
    public long I64(string field) => BinaryPrimitives.ReadInt64LittleEndian(Take(8, field));

    /// <summary>A 0/1 byte.</summary>
    public bool Bool(string field) => U8(field) switch
    {
        0 => false,
        1 => true,
        var b => throw new ProtocolException($"{field} must be 0 or 1, not {b}"),
    };

    /// <summary>u32 count + values; the count must fit the bytes left.</summary>
    public uint[] U32Array(string field)
    {
        uint count = U32($"{field} count");
        if (count > (uint)(Remaining / 4))
            throw new ProtocolException($"{field} count {count} needs {(ulong)count * 4} bytes but only {Remaining} remain in the frame");
        var values = new uint[count];
        var span = Take((int)count * 4, field);
        for (int i = 0; i < values.Length; i++) values[i] = BinaryPrimitives.ReadUInt32LittleEndian(span[(i * 4)..]);
        return values;
    }

    /// <summary>u16 byte count + UTF-8 (strictly decoded).</summary>
    public string Str(string field)
    {
        int length = U16($"{field} length");
        var bytes = Take(length, field);
        try
        {
            return FrameWriter.Decode(bytes);
        }
        catch (DecoderFallbackException)
        {
            throw new ProtocolException($"{field} is not valid UTF-8");
        }
    }

    /// <summary>Fails if bytes are left after the last field.</summary>
    public readonly void End(string what)
    {
        if (Remaining != 0) throw new ProtocolException($"{Remaining} trailing byte(s) after the {what} payload");
    }

    /// <summary>The bytes not read yet (a response's payload).</summary>
    public readonly ReadOnlySpan<byte> Rest => _data[_position..];

    private ReadOnlySpan<byte> Take(int count, string field)
    {
        if (count > Remaining)
            throw new ProtocolException($"frame ends before {field}: {count} byte(s) needed, {Remaining} left");
        var span = _data.Slice(_position, count);
        _position += count;
        return span;
    }
}

/// <summary>A decoded response frame: status fields, payload, and the descriptors that came with it.</summary>
internal sealed class ResponseFrame
{
    private readonly byte[] _body;
    private readonly int _payloadOffset;

    private ResponseFrame(byte[] body, int payloadOffset, List<int> fds)
    {
        _body = body;
        _payloadOffset = payloadOffset;
        Fds = fds;
    }

    public uint Id { get; private init; }
    public SimulatorOpcode Opcode { get; private init; }
    public Errno Errno { get; private init; }
    public GrantStatus? GrantStatus { get; private init; }
    public int? FailedPage { get; private init; }
    public string Operation { get; private init; } = "";
    public string Detail { get; private init; } = "";

    /// <summary>Descriptors received with the frame; whoever takes one closes it.</summary>
    public List<int> Fds { get; }

    /// <summary>A reader over the result payload.</summary>
    public FrameReader Payload() => new(_body.AsSpan(_payloadOffset));

    /// <summary>Decodes a frame body (everything after the length prefix).</summary>
    public static ResponseFrame Parse(byte[] body, List<int> fds)
    {
        var r = new FrameReader(body);
        uint id = r.U32("request id");
        ushort opcode = r.U16("opcode");
        if ((opcode & SimulatorProtocol.ResponseFlag) == 0)
            throw new ProtocolException($"opcode 0x{opcode:X4} of a response lacks the response flag");
        int errno = r.I32("errno");
        byte flags = r.U8("flags");
        short status = r.I16("grant status");
        int page = r.I32("failed page");
        string operation = r.Str("operation");
        string detail = r.Str("detail");
        return new ResponseFrame(body, body.Length - r.Remaining, fds)
        {
            Id = id,
            Opcode = (SimulatorOpcode)(opcode & ~SimulatorProtocol.ResponseFlag),
            Errno = (Errno)errno,
            GrantStatus = (flags & SimulatorProtocol.HasGrantStatus) != 0 ? (GrantStatus)status : null,
            FailedPage = (flags & SimulatorProtocol.HasFailedPage) != 0 ? page : null,
            Operation = operation,
            Detail = detail,
        };
    }
}
