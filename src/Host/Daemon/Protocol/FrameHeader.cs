using System.Buffers.Binary;

namespace BufferActors.Host.Daemon.Protocol;

/// <summary>The 16-byte header of every frame (docs/protocol.md, "Frame header").</summary>
public readonly record struct FrameHeader(WireOpcode Opcode, byte FdCount, uint RequestId, uint PayloadLength)
{
    /// <summary>Bytes of the header.</summary>
    public const int Size = 16;

    /// <summary>The largest payload of version 1.</summary>
    public const int MaxPayload = 262_144;

    /// <summary>The most descriptors one frame carries in version 1.</summary>
    public const int MaxFds = 1;

    /// <summary>Writes the header at the start of <paramref name="frame"/>.</summary>
    public void Write(Span<byte> frame)
    {
        BinaryPrimitives.WriteUInt16LittleEndian(frame, (ushort)Opcode);
        frame[2] = FdCount;
        frame[3] = 0;
        BinaryPrimitives.WriteUInt32LittleEndian(frame[4..], RequestId);
        BinaryPrimitives.WriteUInt32LittleEndian(frame[8..], PayloadLength);
        BinaryPrimitives.WriteUInt32LittleEndian(frame[12..], 0);
    }

    /// <summary>
    /// Reads the header of a received datagram of <paramref name="frame"/>'s length that arrived with
    /// <paramref name="fdsReceived"/> descriptors, checking it against what arrived.
    /// </summary>
    /// <exception cref="ProtocolViolationException">The header does not match the datagram.</exception>
    public static FrameHeader Read(ReadOnlySpan<byte> frame, int fdsReceived)
    {
        if (frame.Length < Size) throw new ProtocolViolationException($"a frame of {frame.Length} bytes is shorter than its {Size}-byte header");
        var header = new FrameHeader((WireOpcode)BinaryPrimitives.ReadUInt16LittleEndian(frame), frame[2],
            BinaryPrimitives.ReadUInt32LittleEndian(frame[4..]), BinaryPrimitives.ReadUInt32LittleEndian(frame[8..]));
        if (frame[3] != 0) throw new ProtocolViolationException($"header flags 0x{frame[3]:X2}: version 1 has none");
        if (BinaryPrimitives.ReadUInt32LittleEndian(frame[12..]) != 0) throw new ProtocolViolationException("the header's reserved field is not 0");
        if (header.PayloadLength > MaxPayload) throw new ProtocolViolationException($"payload_length {header.PayloadLength} exceeds {MaxPayload}");
        if (header.PayloadLength != frame.Length - Size)
            throw new ProtocolViolationException($"payload_length {header.PayloadLength} but {frame.Length - Size} payload bytes arrived");
        if (header.FdCount != fdsReceived) throw new ProtocolViolationException($"fd_count {header.FdCount} but {fdsReceived} descriptor(s) arrived");
        return header;
    }
}
