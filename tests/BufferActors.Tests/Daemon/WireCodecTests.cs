using BufferActors.Host.Daemon.Protocol;

namespace BufferActors.Tests.Daemon;

/// <summary>
/// The C# codec against docs/protocol.md: every golden frame of the doc (written by an implementation of the layout
/// tables of its own) is what the codec encodes for the message it names, and decodes back to it; every way a frame
/// can break the protocol is refused as a violation.
/// </summary>
public sealed class WireCodecTests
{
    /// <summary>The messages of the doc's golden frames, in order, with their request ids.</summary>
    private static readonly (uint RequestId, WireMessage Message)[] GoldenMessages =
    [
        (1, new Hello(1, 1, WireCapabilities.Export | WireCapabilities.Events)),
        (1, new HelloOk(1, WireDevice.Simulator, WireCapabilities.Export | WireCapabilities.Events, 262_144, 64, 1000)),
        (2, new ExportRequest(1, 1, [8, 9, 10])),
        (2, new ExportedReply(42, 3, 1)),
        (3, new HandleRequest(WireOpcode.Release, 42)),
        (3, new HandleReply(WireOpcode.ReleaseAccepted, 42)),
        (4, new WaitReleasedRequest(42, 2000)),
        (4, new HandleReply(WireOpcode.WaitResult, 42, HandleReply.Released)),
        (5, new ImportRequest(2, 4)),
        (5, new ImportedReply(43, [700, 701, 702, 703])),
        (6, new HandleRequest(WireOpcode.ReleaseImport, 43)),
        (6, new HandleReply(WireOpcode.ImportReleased, 43, 1)),
        (7, new MapRequest(1, MapRequest.ReadOnly, [11, 12])),
        (7, new MappedReply(44, 2, 0)),
        (8, new HandleRequest(WireOpcode.Unmap, 44)),
        (8, new UnmappedReply(44)),
        (9, new HandleRequest(WireOpcode.Query, 42)),
        (9, new StatusReply(42, WireKind.Export, WireState.Releasing, false, 1, 3)),
        (10, new SubscribeRequest(WireEvents.Released | WireEvents.AccessEnded)),
        (10, new SubscribedReply(WireEvents.Released | WireEvents.AccessEnded)),
        (11, new ErrorReply(WireErrorCode.NotPermitted, 0, 0, "domain 5 is not yours")),
        (12, new ErrorReply(WireErrorCode.Device, 22, -1, "EXP_FROM_REFS failed")),
        (13, new DaemonStatusRequest()),
        (13, new DaemonStatusReport("{\"clients\":1}")),
        (15, new ReleaseDomainRequest(3)),
        (15, new DomainReleasedReply(3, true, 1, 2)),
        (0, new HandleEvent(WireOpcode.ReleasedEvent, 42)),
        (0, new HandleEvent(WireOpcode.AccessEndedEvent, 43)),
        (0, new QuarantinedEvent(42, 2000)),
        (0, new FrontendDiedEvent(1)),
        (0, new Goodbye(GoodbyeReason.ProtocolError, "fd_count 1 but 0 descriptor(s) arrived")),
    ];

    /// <summary>The golden frames of docs/protocol.md, each with what it is.</summary>
    internal static List<(byte[] Bytes, string What)> GoldenFrames()
    {
        var doc = File.ReadAllText(RepositoryFiles.Path("docs/protocol.md"));
        int start = doc.IndexOf("```golden\n", StringComparison.Ordinal);
        Assert.True(start >= 0, "docs/protocol.md has no golden frames");
        int end = doc.IndexOf("```", start + 10, StringComparison.Ordinal);
        return [.. doc[(start + 10)..end].Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(line =>
        {
            var parts = line.Split("  # ", 2);
            return (Convert.FromHexString(parts[0]), parts[1]);
        })];
    }

    [Fact]
    public void EveryGoldenFrameIsWhatTheCodecEncodes_AndDecodesBackToItsMessage()
    {
        var golden = GoldenFrames();
        Assert.Equal(GoldenMessages.Length, golden.Count);
        for (int i = 0; i < golden.Count; i++)
        {
            var (id, message) = GoldenMessages[i];
            var (bytes, what) = golden[i];
            Assert.True(bytes.AsSpan().SequenceEqual(WireCodec.Encode(id, message)), $"{what}: encoded {Convert.ToHexString(WireCodec.Encode(id, message))}");
            var (header, decoded) = WireCodec.Decode(bytes, message.FdCount);
            Assert.Equal(id, header.RequestId);
            Assert.Equal(Convert.ToHexString(WireCodec.Encode(id, message)), Convert.ToHexString(WireCodec.Encode(id, decoded)));
        }
    }

    [Fact]
    public void EveryOpcodeHasAGoldenFrame()
    {
        var covered = GoldenMessages.Select(m => m.Message.Opcode).ToHashSet();
        foreach (var opcode in Enum.GetValues<WireOpcode>().Where(o => o != WireOpcode.ReplyBit)) Assert.Contains(opcode, covered);
    }

    public static TheoryData<string, string, int, string> Violations() => new()
    {
        // name, frame in hex, descriptors that arrived, what the refusal says
        { "shorter than a header", "0100000001", 0, "shorter than its" },
        { "payload_length larger than what arrived", "010000000100000009000000000000000100010009000000", 0, "payload_length 9 but 8" },
        { "payload_length smaller than what arrived", "010000000100000007000000000000000100010009000000", 0, "payload_length 7 but 8" },
        { "fd_count 1, no descriptor arrived", "050001000500000008000000000000000200000004000000", 0, "fd_count 1 but 0" },
        { "a descriptor arrived, fd_count 0", "010000000100000008000000000000000100010009000000", 1, "fd_count 0 but 1" },
        { "a descriptor where the opcode takes none", "010001000100000008000000000000000100010009000000", 1, "carries 0 descriptor(s), not 1" },
        { "no descriptor where the opcode takes one", "050000000500000008000000000000000200000004000000", 0, "carries 1 descriptor(s), not 0" },
        { "header flags set", "010000010100000008000000000000000100010009000000", 0, "header flags" },
        { "header reserved field set", "010000000100000008000000010000000100010009000000", 0, "reserved field is not 0" },
        { "unknown opcode", "77000000010000000000000000000000", 0, "unknown opcode 0x0077" },
        { "a request with request id 0", "010000000000000008000000000000000100010009000000", 0, "has request id 0" },
        { "an event with a request id", "014000000700000008000000000000002a00000000000000", 0, "has request id 7, not 0" },
        { "a payload longer than its fields", "03000000030000000c000000000000002a0000000000000000000000", 0, "after the last field" },
        { "a payload shorter than its fields", "030000000300000004000000000000002a000000", 0, "ends inside a field" },
        { "an export of no refs", "02000000020000000c00000000000000010000000100000000000000", 0, "0 refs, at least 1" },
        { "an export announcing more refs than it carries", "0200000002000000100000000000000001000000010000000300000008000000", 0, "3 refs announced, 1 present" },
        { "a reserved payload field set", "040000000400000010000000000000002a00000000000000d007000001000000", 0, "a reserved field is not 0" },
        { "a payload over the largest", "02000000020000000100040000000000", 0, "exceeds 262144" },
    };

    [Theory]
    [MemberData(nameof(Violations))]
    public void AFrameThatBreaksTheProtocolIsAViolation(string name, string hex, int fds, string says)
    {
        var e = Assert.Throws<ProtocolViolationException>(() => WireCodec.Decode(Convert.FromHexString(hex), fds));
        Assert.True(e.Message.Contains(says, StringComparison.Ordinal), $"{name}: {e.Message}");
    }

    [Fact]
    public void AMessageOverTheLargestPayloadIsNotEncoded()
    {
        var refs = new uint[FrameHeader.MaxPayload / 4];
        Assert.Throws<ArgumentException>(() => WireCodec.Encode(1, new ExportRequest(1, 0, refs)));
        Assert.NotEmpty(WireCodec.Encode(1, new ExportRequest(1, 0, new uint[(FrameHeader.MaxPayload - 12) / 4])));
    }

    [Fact]
    public void AnErrorMessageIsCutAtACharacterBoundary()
    {
        string text = new string('a', ErrorReply.MaxMessageBytes - 1) + "é"; // 1 + 2 bytes past the limit's last byte
        var (_, decoded) = WireCodec.Decode(WireCodec.Encode(1, new ErrorReply(WireErrorCode.InvalidArgument, 0, 0, text)), 0);
        Assert.Equal(new string('a', ErrorReply.MaxMessageBytes - 1), ((ErrorReply)decoded).Message);
    }
}
