using System.Buffers.Binary;
using System.Net.Sockets;
using BufferActors.Native;
using BufferActors.Native.Simulation.Remote;

namespace BufferActors.Tests.Remote;

/// <summary>
/// Bytes that do not follow <see cref="SimulatorProtocol"/> get EINVAL with a reason and change nothing;
/// when the framing itself is broken the server also hangs up, which exits that connection's process.
/// </summary>
public sealed class MalformedFrameTests : RemoteSimulatorTest
{
    [Fact]
    public void GarbageLengthIsEinval_ThenTheConnectionIsClosedAndItsProcessExits()
    {
        using (var raw = new RawClient(SocketPath))
        {
            raw.Hello();
            var refs = Share(1);
            var export = raw.Call(FrameWriter.Request(2, SimulatorOpcode.ExportDmaBuf).U32(0).U16(1).U32Array(refs));
            Assert.Equal(Errno.None, export.Errno);
            Assert.Equal(1, Sim.Ledger().Exports);

            // Only the prefix: bytes left unread when the server hangs up would turn our EOF into ECONNRESET.
            raw.SendRaw([0xFF, 0xFF, 0xFF, 0xFF]);
            var error = raw.Receive()!;
            Assert.Equal(0u, error.Id);
            Assert.Equal(Errno.EINVAL, error.Errno);
            Assert.Contains("exceeds the maximum", error.Detail);
            Assert.Null(raw.Receive()); // hung up
        }
        Assert.True(Server.WaitForClosedConnections(1, Bound));
        AssertLedgerAtBaseline(); // the export went with the process
    }

    [Fact]
    public void FrameShorterThanItsHeaderIsEinval_AndCloses()
    {
        using (var raw = new RawClient(SocketPath))
        {
            raw.SendRaw([3, 0, 0, 0]);
            var error = raw.Receive()!;
            Assert.Equal(Errno.EINVAL, error.Errno);
            Assert.Contains("shorter than the 6-byte request header", error.Detail);
            Assert.Null(raw.Receive());
        }
        Assert.True(Server.WaitForClosedConnections(1, Bound));
        AssertLedgerAtBaseline();
    }

    [Fact]
    public void UnknownOpcodeAndMissingHelloAreEinval_AndTheConnectionStaysUsable()
    {
        using (var raw = new RawClient(SocketPath))
        {
            var early = raw.Call(FrameWriter.Request(1, SimulatorOpcode.Ledger));
            Assert.Equal(Errno.EINVAL, early.Errno);
            Assert.Contains("must be Hello", early.Detail);

            var version = raw.Call(FrameWriter.Request(2, SimulatorOpcode.Hello).U16(99));
            Assert.Equal(Errno.EINVAL, version.Errno);
            Assert.Contains("version 99 is not supported", version.Detail);

            raw.Hello(3);
            var unknown = raw.Call(FrameWriter.Request(4, (SimulatorOpcode)999).U32(1));
            Assert.Equal(4u, unknown.Id);
            Assert.Equal(Errno.EINVAL, unknown.Errno);
            Assert.Contains("unknown opcode 999", unknown.Detail);

            var zero = raw.Call(FrameWriter.Request(0, SimulatorOpcode.Ledger));
            Assert.Equal(Errno.EINVAL, zero.Errno);
            Assert.Contains("request id 0 is reserved", zero.Detail);

            Assert.Equal(Errno.None, raw.Call(FrameWriter.Request(5, SimulatorOpcode.Ledger)).Errno);
        }
        Assert.True(Server.WaitForClosedConnections(1, Bound));
        AssertLedgerAtBaseline();
    }

    [Fact]
    public void PayloadsThatDoNotMatchTheirFieldsAreEinval_AndDoNothing()
    {
        using (var raw = new RawClient(SocketPath))
        {
            raw.Hello();
            var refs = Share(2);

            // A count of 3 refs followed by 2: truncated payload.
            var truncated = FrameWriter.Request(10, SimulatorOpcode.ExportDmaBuf).U32(0).U16(1).U32(3).U32(refs[0]).U32(refs[1]);
            var e = raw.Call(truncated);
            Assert.Equal(Errno.EINVAL, e.Errno);
            Assert.Contains("refs count 3 needs 12 bytes but only 8 remain", e.Detail);

            var trailing = raw.Call(FrameWriter.Request(11, SimulatorOpcode.MapGrantRefs).U16(1).U8(0).U32Array(refs).U8(0));
            Assert.Equal(Errno.EINVAL, trailing.Errno);
            Assert.Contains("1 trailing byte(s)", trailing.Detail);

            var badFlag = raw.Call(FrameWriter.Request(12, SimulatorOpcode.MapGrantRefs).U16(1).U8(7).U32Array(refs));
            Assert.Equal(Errno.EINVAL, badFlag.Errno);
            Assert.Contains("readOnly must be 0 or 1", badFlag.Detail);

            var shortWait = raw.Call(FrameWriter.Request(13, SimulatorOpcode.WaitReleased).I32(3));
            Assert.Equal(Errno.EINVAL, shortWait.Errno);
            Assert.Contains("frame ends before timeoutMs", shortWait.Detail);

            var badName = raw.Call(FrameWriter.Request(14, SimulatorOpcode.DeviceAllocateBuffer).U16(2).U8(0xC3).U8(0x28).I32(1));
            Assert.Equal(Errno.EINVAL, badName.Errno);
            Assert.Contains("not valid UTF-8", badName.Detail);

            // Nothing of the above reached the simulator.
            var ledger = Sim.Ledger();
            Assert.Equal(0, ledger.Exports);
            Assert.Equal(0, ledger.Maps);
            Assert.Equal(0, ledger.DmaBufs);
            Assert.False(Frontend.IsInUse(refs[0]));
        }
        Assert.True(Server.WaitForClosedConnections(1, Bound));
        AssertLedgerAtBaseline();
    }

    [Fact]
    public void FrameCutShortByEndOfStreamExitsTheProcess()
    {
        using (var raw = new RawClient(SocketPath))
        {
            raw.Hello();
            var map = raw.Call(FrameWriter.Request(2, SimulatorOpcode.MapGrantRefs).U16(1).U8(0).U32Array(Share(1)));
            Assert.Equal(Errno.None, map.Errno);
            Assert.Equal(1, Sim.Ledger().Maps);

            raw.SendRaw([100, 0, 0, 0, 1, 0, 0, 0, 8, 0]); // 6 of 100 bytes, then the client goes
            raw.ShutdownSend();
            Assert.Null(raw.Receive());
        }
        Assert.True(Server.WaitForClosedConnections(1, Bound));
        AssertLedgerAtBaseline();
    }

    /// <summary>A client that writes frames by hand, through a managed socket, to send what RemoteGrantDevice never would.</summary>
    private sealed class RawClient : IDisposable
    {
        private readonly Socket _socket;

        public RawClient(string path)
        {
            _socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified) { ReceiveTimeout = 5000 };
            _socket.Connect(new UnixDomainSocketEndPoint(path));
        }

        public void Hello(uint id = 1) =>
            Assert.Equal(Errno.None, Call(FrameWriter.Request(id, SimulatorOpcode.Hello).U16(SimulatorProtocol.Version)).Errno);

        public ResponseFrame Call(FrameWriter request)
        {
            SendRaw(request.Complete().ToArray());
            var response = Receive();
            Assert.NotNull(response);
            return response;
        }

        public void SendRaw(byte[] bytes) => _socket.Send(bytes);

        public void ShutdownSend() => _socket.Shutdown(SocketShutdown.Send);

        /// <summary>The next response, or null at end of stream.</summary>
        public ResponseFrame? Receive()
        {
            var prefix = new byte[4];
            if (!ReadExactly(prefix)) return null;
            var body = new byte[BinaryPrimitives.ReadUInt32LittleEndian(prefix)];
            Assert.True(ReadExactly(body), "the server hung up inside a response");
            return ResponseFrame.Parse(body, []);
        }

        private bool ReadExactly(byte[] buffer) => SocketReads.ReadExactly(_socket, buffer);

        public void Dispose() => _socket.Dispose();
    }
}
