using System.Runtime.InteropServices;
using BufferActors.Actors.Api;
using BufferActors.Actors.Supervision;
using BufferActors.Host.Daemon;
using BufferActors.Host.Daemon.Protocol;
using BufferActors.Native;
using BufferActors.Native.Linux;
using BufferActors.Native.Simulation;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Win32.SafeHandles;

namespace BufferActors.Tests.Daemon;

/// <summary>
/// The daemon under a seeded stream of hostile frames: random bytes, golden frames with flipped, cut or added bytes,
/// well-formed requests with random fields (handles of another client's lifecycle among them), and frames carrying
/// descriptors of every wrong kind and number (memfds, pipes, /dev/null, sockets, another client's dma-buf). Every
/// frame is answered, or refused with GOODBYE and the connection closed (the fuzzer then connects again). The daemon
/// never fails inside (no error logged), another client's export is untouched, and once the fuzzer is gone the ledger
/// is where it was. A failing seed reproduces the same stream.
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class DaemonFuzzTests : Akka.TestKit.Xunit2.TestKit, IDisposable
{
    private const int Frames = 10_500;
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(10);
    private readonly XenSimulator _sim = new(new SimulatorOptions { Seed = 11 });
    private readonly SimulatorLedger _baseline;
    private readonly FrontendGrants _grants;
    private readonly SimulatedGrantDevice _gntdev;
    private readonly string _folder = Directory.CreateTempSubdirectory("ba-fuzz-").FullName;
    private readonly FakeLogger _log = new();
    private readonly DaemonServer _server;
    private readonly BufferActorsClient _client;

    public DaemonFuzzTests() : base("akka.loglevel = WARNING")
    {
        _baseline = _sim.Ledger();
        // Domain 1 shares pages with the victim; domain 2 exists but shares nothing, so the fuzzer's exports fail.
        _grants = new FrontendGrants(_sim.CreateDomain(1));
        _sim.CreateDomain(2);
        _gntdev = _sim.OpenGrantDevice(_sim.StartProcess("daemon"));
        _client = new BufferActorsClient(Sys, Sys.ActorOf(BufferManager.Props(new BufferActors.Actors.DeviceSession(_gntdev)), "buffers"), Bound);
        _server = new DaemonServer(Path.Combine(_folder, "serve.sock"), Convert.ToInt32("600", 8), _client, _gntdev, WireDevice.Simulator, DaemonPolicy.OwnerOnly(), _log);
    }

    void IDisposable.Dispose()
    {
        _server.Dispose();
        Directory.Delete(_folder, recursive: true);
        base.Dispose();
    }

    [Theory]
    [InlineData(20261207)]
    public async Task TenThousandHostileFrames_AreEachAnsweredOrRefused_AndNothingElseIsAffected(int seed)
    {
        using var victim = WireClient.Connect(_server.Path);
        victim.Hello();
        var (reply, victimFd) = victim.Call(new ExportRequest(1, 0, _grants.Share(2)));
        ulong victimHandle = Assert.IsType<ExportedReply>(reply).Handle;

        var random = new Random(seed);
        var golden = WireCodecTests.GoldenFrames().Select(g => g.Bytes).ToList();
        using var wrongFds = new WrongDescriptors(victimFd!);
        var outcomes = new Dictionary<string, int>();
        SeqPacketSocket? socket = null;
        var buffer = new byte[FrameHeader.Size + FrameHeader.MaxPayload];
        try
        {
            for (int i = 0; i < Frames; i++)
            {
                if (socket is null)
                {
                    socket = SeqPacketSocket.Connect(_server.Path);
                    // Most connections greet first, so that requests reach the daemon's handlers; some do not.
                    if (random.Next(10) > 0)
                    {
                        socket.Send(WireCodec.Encode(1, new Hello(1, 1, (WireCapabilities)random.Next(32))), []);
                        Assert.Equal("answered", Outcome(socket, buffer, $"seed {seed} frame {i}: HELLO"));
                    }
                }
                var (frame, what) = NextFrame(random, golden, victimHandle);
                var fds = wrongFds.Pick(random);
                socket.Send(frame, fds);
                string outcome = Outcome(socket, buffer, $"seed {seed} frame {i} ({what})");
                // An empty datagram cannot be told from the end of the stream (recvmsg answers 0 to both): the daemon
                // closes without a GOODBYE. Anything else it refuses, it says goodbye to.
                Assert.True(outcome != "closed" || frame.Length == 0, $"seed {seed} frame {i} ({what}): closed without GOODBYE");
                outcomes[outcome] = outcomes.GetValueOrDefault(outcome) + 1;
                if (outcome is "goodbye" or "closed" or "pending")
                {
                    socket.Dispose();
                    socket = null;
                }
            }
        }
        finally
        {
            socket?.Dispose();
        }

        // Everything the fuzzer's connections owned ends; the victim's export went through it all untouched.
        await AwaitConditionAsync(() => Task.FromResult(_server.Clients == 1), Bound);
        Assert.Equal(WireState.Exported, Assert.IsType<StatusReply>(victim.Call(new HandleRequest(WireOpcode.Query, victimHandle)).Reply).State);
        Assert.Empty(_log.Collector.GetSnapshot().Where(r => r.Level >= LogLevel.Error).Select(r => r.Message));
        Assert.True(outcomes.GetValueOrDefault("answered") > 1000 && outcomes.GetValueOrDefault("goodbye") > 1000,
            string.Join(", ", outcomes.Select(o => $"{o.Key}: {o.Value}")));

        victim.Call(new HandleRequest(WireOpcode.Release, victimHandle));
        victimFd!.Dispose();
        wrongFds.Dispose();
        Assert.NotEqual(HandleReply.TimedOut, Assert.IsType<HandleReply>(victim.Call(new WaitReleasedRequest(victimHandle, 5000)).Reply).Value);
        await _sim.WhenLedger(l => l.Exports == 0 && l.Imports == 0, Bound);
        await AwaitAssertAsync(async () => Assert.Equal(0, (await _client.SnapshotAsync()).LiveLifecycles), Bound);
        _grants.EndAll();
        _gntdev.Dispose();
        Assert.Empty(_sim.Violations);
        Assert.Empty(_sim.Ledger().DifferencesFrom(_baseline));
    }

    /// <summary>
    /// What the daemon did with one frame: answered it, said goodbye, closed, or (only for a wait it may rightly hold,
    /// on a lifecycle the connection owns) left it pending.
    /// </summary>
    private string Outcome(SeqPacketSocket socket, byte[] buffer, string context)
    {
        var fds = new List<SafeFileHandle>();
        try
        {
            if (!socket.WaitReadable(TimeSpan.FromSeconds(2)))
            {
                // A frame the daemon read as a request is always answered, except a wait on an export the connection
                // owns (a mutated EXPORT can succeed): it may rightly wait up to its time-out.
                Assert.True(_server.OwnedLifecycles > 0, $"{context}: no answer within 2 s, and nothing the connection owns to wait on");
                return "pending";
            }
            int length;
            try
            {
                length = socket.Receive(buffer, fds);
            }
            catch (UnixSocketException e) when (e.Errno is Errno.ECONNRESET)
            {
                return "closed";
            }
            if (length < 0) return "closed";
            var (_, message) = WireCodec.Decode(buffer.AsSpan(0, length), fds.Count);
            return message is Goodbye ? "goodbye" : "answered";
        }
        finally
        {
            foreach (var fd in fds) fd.Dispose();
        }
    }

    private static (byte[] Frame, string What) NextFrame(Random random, List<byte[]> golden, ulong victimHandle)
    {
        uint id = (uint)random.Next(2, 1000);
        switch (random.Next(7))
        {
            case 0:
                return (Bytes(random, random.Next(0, 80)), "random bytes");
            case 1:
            {
                var frame = (byte[])golden[random.Next(golden.Count)].Clone();
                for (int flips = random.Next(1, 4); flips > 0; flips--) frame[random.Next(frame.Length)] ^= (byte)(1 << random.Next(8));
                return (frame, "golden frame, bits flipped");
            }
            case 2:
            {
                var frame = golden[random.Next(golden.Count)];
                return random.Next(2) == 0
                    ? (frame[..random.Next(frame.Length)], "golden frame, cut")
                    : ([.. frame, .. Bytes(random, random.Next(1, 9))], "golden frame, bytes added");
            }
            case 3:
            {
                var frame = WireCodec.Encode(id, new HandleRequest(HandleRequest.Opcodes[random.Next(HandleRequest.Opcodes.Length)], random.Next(3) == 0 ? victimHandle : (ulong)random.Next(0, 50)));
                return (frame, "a request naming another client's or no lifecycle");
            }
            case 4:
                return (random.Next(3) switch
                {
                    0 => WireCodec.Encode(id, new ExportRequest((ushort)random.Next(0, 0x8000), (uint)random.Next(0, 4), [.. Enumerable.Range(0, random.Next(1, 20)).Select(_ => (uint)random.Next(0, 64))])),
                    1 => WireCodec.Encode(id, new WaitReleasedRequest(random.Next(2) == 0 ? victimHandle : (ulong)random.Next(0, 50), (uint)random.Next(0, 3) * uint.MaxValue / 2)),
                    _ => WireCodec.Encode(id, new ImportRequest((ushort)random.Next(0, 4), (uint)random.Next(0, 5))),
                }, "a well-formed request with random fields");
            case 5:
            {
                // A header that promises what the datagram does not hold.
                var frame = WireCodec.Encode(id, new HandleRequest(WireOpcode.Query, 1));
                int field = random.Next(4);
                if (field == 0) frame[2] = (byte)random.Next(1, 255); // fd_count
                else if (field == 1) frame[3] = (byte)random.Next(1, 255); // flags
                else if (field == 2) BitConverter.TryWriteBytes(frame.AsSpan(8), (uint)random.Next()); // payload_length
                else frame[12 + random.Next(4)] = (byte)random.Next(1, 255); // reserved
                return (frame, "a header that lies");
            }
            default:
            {
                var frame = WireCodec.Encode(id, new HandleRequest(WireOpcode.Query, 1));
                BitConverter.TryWriteBytes(frame.AsSpan(0), (ushort)random.Next(0, 0x10000)); // any opcode, replies and events too
                return (frame, "any opcode");
            }
        }
    }

    private static byte[] Bytes(Random random, int count)
    {
        var bytes = new byte[count];
        random.NextBytes(bytes);
        return bytes;
    }

    /// <summary>Descriptors of every wrong kind: none most often, else 1 to 4 of a memfd, a pipe, /dev/null, a socket, and another client's dma-buf.</summary>
    private sealed class WrongDescriptors : IDisposable
    {
        private readonly System.IO.Pipes.AnonymousPipeServerStream _pipe = new(System.IO.Pipes.PipeDirection.Out);
        private readonly System.Net.Sockets.Socket _socket = new(System.Net.Sockets.AddressFamily.Unix, System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Unspecified);
        private readonly SafeFileHandle _memfd = new(SharedMemory.CreateMemfd("fuzz", 4096), ownsHandle: true);
        private readonly SafeFileHandle _devNull = File.OpenHandle("/dev/null");
        private readonly SafeHandle[] _kinds;

        public WrongDescriptors(SafeFileHandle othersDmaBuf) => _kinds = [_memfd, _pipe.SafePipeHandle, _devNull, _socket.SafeHandle, othersDmaBuf];

        public SafeHandle[] Pick(Random random) =>
            random.Next(3) > 0 ? [] : [.. Enumerable.Range(0, random.Next(1, 5)).Select(_ => _kinds[random.Next(_kinds.Length)])];

        public void Dispose()
        {
            _pipe.Dispose();
            _socket.Dispose();
            _memfd.Dispose();
            _devNull.Dispose();
        }
    }
}
