using System.Buffers.Binary;

namespace BufferActors.Host.Daemon.Protocol;

/// <summary>Writes a payload's fields little-endian, in order, into a growing buffer.</summary>
public sealed class WireWriter
{
    private byte[] _buffer = new byte[64];

    /// <summary>Bytes written so far.</summary>
    public int Length { get; private set; }

    /// <summary>The bytes written.</summary>
    public ReadOnlySpan<byte> Written => _buffer.AsSpan(0, Length);

    /// <summary>Appends a <c>u8</c>.</summary>
    public WireWriter U8(byte value)
    {
        Next(1)[0] = value;
        return this;
    }

    /// <summary>Appends a <c>u16</c>.</summary>
    public WireWriter U16(ushort value)
    {
        BinaryPrimitives.WriteUInt16LittleEndian(Next(2), value);
        return this;
    }

    /// <summary>Appends an <c>i16</c>.</summary>
    public WireWriter I16(short value)
    {
        BinaryPrimitives.WriteInt16LittleEndian(Next(2), value);
        return this;
    }

    /// <summary>Appends a <c>u32</c>.</summary>
    public WireWriter U32(uint value)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(Next(4), value);
        return this;
    }

    /// <summary>Appends an <c>i32</c>.</summary>
    public WireWriter I32(int value)
    {
        BinaryPrimitives.WriteInt32LittleEndian(Next(4), value);
        return this;
    }

    /// <summary>Appends a <c>u64</c>.</summary>
    public WireWriter U64(ulong value)
    {
        BinaryPrimitives.WriteUInt64LittleEndian(Next(8), value);
        return this;
    }

    /// <summary>Appends a refs array: <c>u32 count</c>, then each ref.</summary>
    public WireWriter Refs(ReadOnlySpan<uint> refs)
    {
        U32((uint)refs.Length);
        foreach (uint r in refs) U32(r);
        return this;
    }

    /// <summary>Appends raw bytes.</summary>
    public WireWriter Bytes(ReadOnlySpan<byte> bytes)
    {
        bytes.CopyTo(Next(bytes.Length));
        return this;
    }

    private Span<byte> Next(int count)
    {
        if (Length + count > _buffer.Length) Array.Resize(ref _buffer, Math.Max(_buffer.Length * 2, Length + count));
        var span = _buffer.AsSpan(Length, count);
        Length += count;
        return span;
    }
}
