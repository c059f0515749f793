using BufferActors.Actors.Api;
using BufferActors.Actors.Supervision;
using BufferActors.Host.Daemon;
using BufferActors.Host.Daemon.Protocol;
using BufferActors.Native.Linux;
using BufferActors.Native.Simulation;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Win32.SafeHandles;

namespace BufferActors.Tests.Daemon;

/// <summary>
/// The daemon's limits: lifecycles and pages per connection and per uid over all its connections, refused with
/// QuotaExceeded before anything changes; a client that stops reading is cut off without holding up another.
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class DaemonLimitsTests : Akka.TestKit.Xunit2.TestKit, IDisposable
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(10);
    private readonly XenSimulator _sim = new(new SimulatorOptions { Seed = 7 });
    private readonly SimulatorLedger _baseline;
    private readonly FrontendGrants _grants;
    private readonly SimulatedGrantDevice _gntdev;
    private readonly string _folder = Directory.CreateTempSubdirectory("ba-limits-").FullName;
    private readonly BufferActorsClient _client;
    private DaemonServer? _server;

    public DaemonLimitsTests() : base("akka.loglevel = WARNING")
    {
        _baseline = _sim.Ledger();
        _grants = new FrontendGrants(_sim.CreateDomain(1));
        _gntdev = _sim.OpenGrantDevice(_sim.StartProcess("daemon"));
        _client = new BufferActorsClient(Sys, Sys.ActorOf(BufferManager.Props(new BufferActors.Actors.DeviceSession(_gntdev)), "buffers"), Bound);
    }

    void IDisposable.Dispose()
    {
        _server?.Dispose();
        Directory.Delete(_folder, recursive: true);
        base.Dispose();
    }

    private DaemonServer Serve(DaemonPolicy policy) =>
        _server = new DaemonServer(Path.Combine(_folder, "serve.sock"), Convert.ToInt32("600", 8), _client, _gntdev, WireDevice.Simulator, policy, NullLogger.Instance);

    [Fact]
    public async Task AUidCannotTakeMoreThanItsShare_ByOpeningMoreConnections()
    {
        var server = Serve(DaemonPolicy.OwnerOnly() with { MaxLifecyclesPerUid = 2 });
        using var a = WireClient.Connect(server.Path);
        using var b = WireClient.Connect(server.Path);
        a.Hello();
        b.Hello();
        var (first, fd1) = a.Call(new ExportRequest(1, 0, _grants.Share(1)));
        var (_, fd2) = b.Call(new ExportRequest(1, 0, _grants.Share(1)));
        var refused = Assert.IsType<ErrorReply>(b.Call(new ExportRequest(1, 0, _grants.Share(1))).Reply);
        Assert.Equal(WireErrorCode.QuotaExceeded, refused.Code);
        Assert.Equal(2, _sim.Ledger().Exports); // refused before anything reached the device

        ulong handle = Assert.IsType<ExportedReply>(first).Handle;
        a.Call(new HandleRequest(WireOpcode.Release, handle));
        fd1!.Dispose();
        Assert.NotEqual(HandleReply.TimedOut, Assert.IsType<HandleReply>(a.Call(new WaitReleasedRequest(handle, 5000)).Reply).Value);
        var (again, fd3) = b.Call(new ExportRequest(1, 0, _grants.Share(1)));
        Assert.IsType<ExportedReply>(again);

        fd2!.Dispose();
        fd3!.Dispose();
        a.Dispose();
        b.Dispose();
        await AssertLedgerAtBaseline();
    }

    [Fact]
    public async Task AConnectionsPagesAreLimited_AndARefusedExportChangesNothing()
    {
        var server = Serve(DaemonPolicy.OwnerOnly() with { MaxPages = 3 });
        using var c = WireClient.Connect(server.Path);
        c.Hello();
        var (_, fd) = c.Call(new ExportRequest(1, 0, _grants.Share(2)));
        var refused = Assert.IsType<ErrorReply>(c.Call(new ExportRequest(1, 0, _grants.Share(2))).Reply);
        Assert.Equal(WireErrorCode.QuotaExceeded, refused.Code);
        Assert.Contains("3 pages", refused.Message, StringComparison.Ordinal);
        var (fits, fd2) = c.Call(new ExportRequest(1, 0, _grants.Share(1)));
        Assert.IsType<ExportedReply>(fits);

        fd!.Dispose();
        fd2!.Dispose();
        c.Dispose();
        await AssertLedgerAtBaseline();
    }

    [Fact]
    public async Task AClientThatStopsReading_IsCutOff_WithItsLifecyclesEnded_WhileAnotherIsServed()
    {
        var server = Serve(DaemonPolicy.OwnerOnly() with { SendTimeout = TimeSpan.FromMilliseconds(300) });
        using var slow = WireClient.Connect(server.Path);
        using var other = WireClient.Connect(server.Path);
        slow.Hello();
        other.Hello();
        var (reply, fd) = slow.Call(new ExportRequest(1, 0, _grants.Share(1)));
        ulong handle = Assert.IsType<ExportedReply>(reply).Handle;
        fd!.Dispose();

        // The slow client asks and asks and never reads: its socket fills, and the daemon cuts it off.
        var query = WireCodec.Encode(0, new HandleRequest(WireOpcode.Query, handle));
        bool cut = false;
        // Bounded by time, not by a count of frames: once both sockets are full, each try is an EAGAIN that takes no
        // time, and the daemon's send time-out must have had the time to run out.
        var trying = System.Diagnostics.Stopwatch.StartNew();
        for (uint id = 1; trying.Elapsed < Bound && !cut; id++)
        {
            BitConverter.TryWriteBytes(query.AsSpan(4), id);
            try
            {
                if (!slow.Socket.Send(query, [], dontWait: true)) await Task.Yield();
            }
            catch (Native.UnixSocketException)
            {
                cut = true; // the daemon shut the connection
            }
            if (id % 1000 == 0)
            {
                // Meanwhile another client is answered as usual.
                Assert.Equal(WireErrorCode.NotFound, Assert.IsType<ErrorReply>(other.Call(new HandleRequest(WireOpcode.Query, 999)).Reply).Code);
                cut |= server.Clients == 1;
            }
        }
        Assert.True(cut, "the client that stopped reading was never cut off");
        await AwaitConditionAsync(() => Task.FromResult(server.Clients == 1), Bound);
        other.Dispose();
        await AssertLedgerAtBaseline();
    }

    private async Task AssertLedgerAtBaseline()
    {
        await _sim.WhenLedger(l => l.Exports == 0 && l.Imports == 0, Bound);
        await AwaitAssertAsync(async () => Assert.Equal(0, (await _client.SnapshotAsync()).LiveLifecycles), Bound);
        _grants.EndAll();
        _gntdev.Dispose();
        Assert.Empty(_sim.Violations);
        Assert.Empty(_sim.Ledger().DifferencesFrom(_baseline));
    }
}
