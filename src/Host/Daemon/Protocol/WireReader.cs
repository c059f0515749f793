using System.Buffers.Binary;

namespace BufferActors.Host.Daemon.Protocol;

/// <summary>Reads a payload's fields little-endian, in order; reading past the end, or leaving bytes unread, is a protocol violation.</summary>
public ref struct WireReader(ReadOnlySpan<byte> payload, WireOpcode opcode)
{
    private readonly ReadOnlySpan<byte> _payload = payload;
    private int _at;

    /// <summary>Reads a <c>u8</c>.</summary>
    public byte U8() => Next(1)[0];

    /// <summary>Reads a <c>u16</c>.</summary>
    public ushort U16() => BinaryPrimitives.ReadUInt16LittleEndian(Next(2));

    /// <summary>Reads an <c>i16</c>.</summary>
    public short I16() => BinaryPrimitives.ReadInt16LittleEndian(Next(2));

    /// <summary>Reads a <c>u32</c>.</summary>
    public uint U32() => BinaryPrimitives.ReadUInt32LittleEndian(Next(4));

    /// <summary>Reads an <c>i32</c>.</summary>
    public int I32() => BinaryPrimitives.ReadInt32LittleEndian(Next(4));

    /// <summary>Reads a <c>u64</c>.</summary>
    public ulong U64() => BinaryPrimitives.ReadUInt64LittleEndian(Next(8));

    /// <summary>Reads a reserved field of <paramref name="bytes"/> bytes, which must be 0.</summary>
    public void Reserved(int bytes)
    {
        foreach (byte b in Next(bytes))
            if (b != 0) throw new ProtocolViolationException($"{opcode}: a reserved field is not 0");
    }

    /// <summary>Reads a refs array (<c>u32 count</c> and the refs), with at least <paramref name="min"/> refs.</summary>
    public uint[] Refs(int min)
    {
        uint count = U32();
        if (count < min) throw new ProtocolViolationException($"{opcode}: {count} refs, at least {min} needed");
        if (count > (_payload.Length - _at) / 4) throw new ProtocolViolationException($"{opcode}: {count} refs announced, {(_payload.Length - _at) / 4} present");
        var refs = new uint[count];
        for (int i = 0; i < refs.Length; i++) refs[i] = U32();
        return refs;
    }

    /// <summary>Reads <paramref name="count"/> raw bytes.</summary>
    public ReadOnlySpan<byte> Bytes(int count) => Next(count);

    /// <summary>Reads every byte left.</summary>
    public ReadOnlySpan<byte> Rest() => Next(_payload.Length - _at);

    /// <summary>Checks that the whole payload was read.</summary>
    public readonly void End()
    {
        if (_at != _payload.Length) throw new ProtocolViolationException($"{opcode}: {_payload.Length - _at} byte(s) after the last field");
    }

    private ReadOnlySpan<byte> Next(int count)
    {
        if (_payload.Length - _at < count) throw new ProtocolViolationException($"{opcode}: the payload ends inside a field ({_payload.Length} bytes)");
        var span = _payload.Slice(_at, count);
        _at += count;
        return span;
    }
}
