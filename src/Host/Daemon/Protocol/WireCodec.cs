namespace BufferActors.Host.Daemon.Protocol;

/// <summary>
/// Frames to bytes and back (docs/protocol.md). Decoding is strict: a frame is read only if its header matches what
/// arrived, its opcode is known, it carries the descriptors its opcode takes, and its payload is exactly its fields;
/// anything else is a <see cref="ProtocolViolationException"/>.
/// </summary>
public static class WireCodec
{
    /// <summary>The protocol version this codec speaks.</summary>
    public const ushort Version = 1;

    /// <summary>The frame of <paramref name="message"/> with <paramref name="requestId"/> (0 for an event or a goodbye).</summary>
    public static byte[] Encode(uint requestId, WireMessage message)
    {
        ArgumentNullException.ThrowIfNull(message);
        var payload = new WireWriter();
        message.Write(payload);
        if (payload.Length > FrameHeader.MaxPayload) throw new ArgumentException($"a {payload.Length}-byte payload exceeds {FrameHeader.MaxPayload}", nameof(message));
        var frame = new byte[FrameHeader.Size + payload.Length];
        new FrameHeader(message.Opcode, message.FdCount, requestId, (uint)payload.Length).Write(frame);
        payload.Written.CopyTo(frame.AsSpan(FrameHeader.Size));
        return frame;
    }

    /// <summary>Reads one received datagram, <paramref name="fdsReceived"/> descriptors having arrived with it.</summary>
    /// <exception cref="ProtocolViolationException">The frame breaks the protocol.</exception>
    public static (FrameHeader Header, WireMessage Message) Decode(ReadOnlySpan<byte> frame, int fdsReceived)
    {
        var header = FrameHeader.Read(frame, fdsReceived);
        var reader = new WireReader(frame[FrameHeader.Size..], header.Opcode);
        WireMessage message = header.Opcode switch
        {
            WireOpcode.Hello => Hello.Read(ref reader),
            WireOpcode.Export => ExportRequest.Read(ref reader),
            WireOpcode.Release or WireOpcode.ReleaseImport or WireOpcode.Unmap or WireOpcode.Query => HandleRequest.Read(header.Opcode, ref reader),
            WireOpcode.WaitReleased => WaitReleasedRequest.Read(ref reader),
            WireOpcode.Import => ImportRequest.Read(ref reader),
            WireOpcode.Map => MapRequest.Read(ref reader),
            WireOpcode.Subscribe => SubscribeRequest.Read(ref reader),
            WireOpcode.DaemonStatus => DaemonStatusRequest.Read(ref reader),
            WireOpcode.ReleaseDomain => ReleaseDomainRequest.Read(ref reader),
            WireOpcode.HelloOk => HelloOk.Read(ref reader),
            WireOpcode.Exported => ExportedReply.Read(ref reader),
            WireOpcode.ReleaseAccepted or WireOpcode.WaitResult or WireOpcode.ImportReleased => HandleReply.Read(header.Opcode, ref reader),
            WireOpcode.Imported => ImportedReply.Read(ref reader),
            WireOpcode.Mapped => MappedReply.Read(ref reader),
            WireOpcode.Unmapped => UnmappedReply.Read(ref reader),
            WireOpcode.Status => StatusReply.Read(ref reader),
            WireOpcode.Subscribed => SubscribedReply.Read(ref reader),
            WireOpcode.DaemonStatusReport => DaemonStatusReport.Read(ref reader),
            WireOpcode.DomainReleased => DomainReleasedReply.Read(ref reader),
            WireOpcode.Error => ErrorReply.Read(ref reader),
            WireOpcode.ReleasedEvent or WireOpcode.AccessEndedEvent => HandleEvent.Read(header.Opcode, ref reader),
            WireOpcode.QuarantinedEvent => QuarantinedEvent.Read(ref reader),
            WireOpcode.FrontendDiedEvent => FrontendDiedEvent.Read(ref reader),
            WireOpcode.Goodbye => Goodbye.Read(ref reader),
            _ => throw new ProtocolViolationException($"unknown opcode 0x{(ushort)header.Opcode:X4}"),
        };
        reader.End();
        if (header.FdCount != message.FdCount)
            throw new ProtocolViolationException($"{header.Opcode} carries {message.FdCount} descriptor(s), not {header.FdCount}");
        bool isEvent = header.Opcode is >= WireOpcode.ReleasedEvent and <= (WireOpcode)0x40FF || header.Opcode == WireOpcode.Goodbye;
        if (isEvent != (header.RequestId == 0))
            throw new ProtocolViolationException(isEvent ? $"{header.Opcode} has request id {header.RequestId}, not 0" : $"{header.Opcode} has request id 0");
        return (header, message);
    }
}
