using BufferActors.Actors.Api;
using BufferActors.Actors.Lifecycles;
using BufferActors.Actors.Supervision;
using BufferActors.Host.Daemon;
using BufferActors.Host.Daemon.Protocol;
using BufferActors.Native;
using BufferActors.Native.Linux;
using BufferActors.Native.Simulation;
using Microsoft.Extensions.Logging.Abstractions;

namespace BufferActors.Tests.Daemon;

/// <summary>
/// The daemon end to end in one process, on the simulator: a client speaks the wire protocol over a real
/// SOCK_SEQPACKET socket, receives real descriptors, owns its lifecycles alone, and what it leaves behind — by
/// closing, dying or breaking the protocol — ends with the ledger at baseline.
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class DaemonServerTests : Akka.TestKit.Xunit2.TestKit, IDisposable
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(10);
    private readonly XenSimulator _sim = new(new SimulatorOptions { Seed = 5 });
    private readonly SimulatorLedger _baseline;
    private readonly SimulatedDomain _frontend;
    private readonly FrontendGrants _grants;
    private readonly SimulatedGrantDevice _gntdev;
    private readonly string _folder = Directory.CreateTempSubdirectory("ba-serve-").FullName;
    private readonly DaemonServer _server;
    private readonly BufferActorsClient _client;

    public DaemonServerTests() : base("akka.loglevel = WARNING")
    {
        _baseline = _sim.Ledger();
        _frontend = _sim.CreateDomain(1);
        _grants = new FrontendGrants(_frontend);
        _gntdev = _sim.OpenGrantDevice(_sim.StartProcess("daemon"));
        _client = new BufferActorsClient(Sys, Sys.ActorOf(BufferManager.Props(new BufferActors.Actors.DeviceSession(_gntdev)), "buffers"), Bound);
        _server = new DaemonServer(Path.Combine(_folder, "serve.sock"), Convert.ToInt32("660", 8), _client, _gntdev, WireDevice.Simulator, DaemonPolicy.OwnerOnly(), NullLogger.Instance);
    }

    void IDisposable.Dispose()
    {
        _server.Dispose();
        Directory.Delete(_folder, recursive: true);
        base.Dispose();
    }

    private async Task AssertLedgerAtBaseline()
    {
        await _sim.WhenLedger(l => l.Exports == 0 && l.Imports == 0, Bound);
        // Every lifecycle saw its buffer go and freed the number it kept taken meanwhile.
        await AwaitAssertAsync(async () => Assert.Equal(0, (await _client.SnapshotAsync()).LiveLifecycles), Bound);
        _grants.EndAll();
        _gntdev.Dispose();
        Assert.Empty(_sim.Violations);
        Assert.Empty(_sim.Ledger().DifferencesFrom(_baseline));
    }

    [Fact]
    public async Task AClientExports_GetsTheBuffersDescriptor_Releases_AndTheBufferGoesWithItsLastClose()
    {
        using var c = WireClient.Connect(_server.Path);
        var hello = c.Hello();
        Assert.Equal((1, WireDevice.Simulator, (uint)LinuxProcess.Uid()), (hello.Version, hello.Device, hello.Uid));
        Assert.Equal(WireCapabilities.Export | WireCapabilities.Import, hello.Capabilities);

        var refs = _grants.Share(2);
        var (reply, fd) = c.Call(new ExportRequest(1, 0, refs));
        var exported = Assert.IsType<ExportedReply>(reply);
        Assert.Equal(2u, exported.PageCount);
        Assert.NotNull(fd);

        var status = Assert.IsType<StatusReply>(c.Call(new HandleRequest(WireOpcode.Query, exported.Handle)).Reply);
        Assert.Equal((WireKind.Export, WireState.Exported, (ushort)1, 2u), (status.Kind, status.State, status.Domid, status.PageCount));

        Assert.IsType<HandleReply>(c.Call(new HandleRequest(WireOpcode.Release, exported.Handle)).Reply);
        // The client's descriptor still holds the buffer.
        Assert.Equal(HandleReply.TimedOut, Assert.IsType<HandleReply>(c.Call(new WaitReleasedRequest(exported.Handle, 0)).Reply).Value);
        fd!.Dispose();
        var released = Assert.IsType<HandleReply>(c.Call(new WaitReleasedRequest(exported.Handle, 5000)).Reply);
        Assert.NotEqual(HandleReply.TimedOut, released.Value);
        c.Dispose();
        await AssertLedgerAtBaseline();
    }

    [Fact]
    public async Task ASubscriberIsToldWhenTheKernelReleasedItsExport()
    {
        using var c = WireClient.Connect(_server.Path);
        Assert.True(c.Hello(WireCapabilities.Export | WireCapabilities.Events).Capabilities.HasFlag(WireCapabilities.Events));
        Assert.Equal(WireEvents.Released, Assert.IsType<SubscribedReply>(c.Call(new SubscribeRequest(WireEvents.Released | (WireEvents)0x100)).Reply).Events); // no such event: not granted
        var (reply, fd) = c.Call(new ExportRequest(1, 0, _grants.Share(1)));
        ulong handle = Assert.IsType<ExportedReply>(reply).Handle;
        c.Call(new HandleRequest(WireOpcode.Release, handle));
        Assert.True(c.Quiet(TimeSpan.FromMilliseconds(200))); // the descriptor still holds the buffer: no event yet

        fd!.Dispose();
        var (header, message, _) = c.Next() ?? throw new InvalidOperationException("no event");
        Assert.Equal(0u, header.RequestId);
        Assert.Equal(new HandleEvent(WireOpcode.ReleasedEvent, handle), message);
        c.Dispose();
        await AssertLedgerAtBaseline();
    }

    [Fact]
    public async Task ASubscriberIsToldWhenTheDeferredGrantsOfAnImportItReleasedEnded()
    {
        int buffer = _sim.AddDevice("camera").AllocateBuffer(_gntdev.Process, 2);
        var shared = _gntdev.ShareDmaBuf(buffer);
        _gntdev.CloseFd(buffer);
        using var c = WireClient.Connect(_server.Path);
        c.Hello(WireCapabilities.Import | WireCapabilities.Events);
        Assert.Equal(WireEvents.AccessEnded | WireEvents.FrontendDied, Assert.IsType<SubscribedReply>(c.Call(new SubscribeRequest(WireEvents.AccessEnded | WireEvents.FrontendDied)).Reply).Events);
        var imported = Assert.IsType<ImportedReply>(c.Call(new ImportRequest(1, 2), shared).Reply);
        shared.Dispose();

        int mapping = _frontend.MapForeign(DomainId.Dom0, imported.Refs[1]); // the frontend still maps one page
        var released = Assert.IsType<HandleReply>(c.Call(new HandleRequest(WireOpcode.ReleaseImport, imported.Handle)).Reply);
        Assert.Equal(1u, released.Value); // one ref deferred
        _sim.Tick();
        Assert.True(c.Quiet(TimeSpan.FromMilliseconds(300)));

        _frontend.UnmapForeign(mapping);
        (FrameHeader Header, WireMessage Message, Microsoft.Win32.SafeHandles.SafeFileHandle? Fd)? ended = null;
        for (int i = 0; i < 100 && ended is null; i++)
        {
            _sim.Tick(); // the grant table retries deferred ends on its timer
            if (!c.Quiet(TimeSpan.FromMilliseconds(100))) ended = c.Next();
        }
        Assert.Equal(new HandleEvent(WireOpcode.AccessEndedEvent, imported.Handle), ended?.Message);
        c.Dispose();
        await AssertLedgerAtBaseline();
    }

    [Fact]
    public async Task ASubscriberIsToldWhenAnExportItReleasedIsQuarantined_ThenWhenItIsReleased()
    {
        // A manager of its own whose exports are quarantined after 300 ms still held.
        var settings = BufferManager.Settings.Default with { Export = new ExportSettings(TimeSpan.FromMilliseconds(1), TimeSpan.FromMilliseconds(50), TimeSpan.FromMilliseconds(300)) };
        var client = new BufferActorsClient(Sys, Sys.ActorOf(BufferManager.Props(new BufferActors.Actors.DeviceSession(_gntdev), settings), "quick"), Bound);
        using var server = new DaemonServer(Path.Combine(_folder, "quick.sock"), Convert.ToInt32("600", 8), client, _gntdev, WireDevice.Simulator, DaemonPolicy.OwnerOnly(), NullLogger.Instance);
        using var c = WireClient.Connect(server.Path);
        c.Hello(WireCapabilities.Export | WireCapabilities.Events);
        Assert.Equal(WireEvents.Released | WireEvents.Quarantined, Assert.IsType<SubscribedReply>(c.Call(new SubscribeRequest(WireEvents.Released | WireEvents.Quarantined)).Reply).Events);
        var (reply, fd) = c.Call(new ExportRequest(1, 0, _grants.Share(2)));
        ulong handle = Assert.IsType<ExportedReply>(reply).Handle;
        c.Call(new HandleRequest(WireOpcode.Release, handle)); // the client's descriptor goes on holding the buffer

        var quarantined = Assert.IsType<QuarantinedEvent>((c.Next(Bound) ?? throw new InvalidOperationException("no event")).Message);
        Assert.Equal(handle, quarantined.Handle);
        Assert.InRange(quarantined.HeldMs, 300u, 10_000u);
        Assert.True(Assert.IsType<StatusReply>(c.Call(new HandleRequest(WireOpcode.Query, handle)).Reply).Quarantined);

        fd!.Dispose(); // the holder lets go at last
        Assert.Equal(new HandleEvent(WireOpcode.ReleasedEvent, handle), (c.Next(Bound) ?? throw new InvalidOperationException("no event")).Message);
        c.Dispose();
        await AwaitAssertAsync(async () => Assert.Equal(0, (await client.SnapshotAsync()).LiveLifecycles), Bound);
        await AssertLedgerAtBaseline();
    }

    [Fact]
    public async Task ASubscriberWithLifecyclesOfAFrontendIsToldItDied_OthersAreNot()
    {
        using var owner = WireClient.Connect(_server.Path);
        using var other = WireClient.Connect(_server.Path);
        foreach (var c in new[] { owner, other })
        {
            c.Hello(WireCapabilities.Export | WireCapabilities.Events);
            c.Call(new SubscribeRequest(WireEvents.FrontendDied));
        }
        var (reply, fd) = owner.Call(new ExportRequest(1, 0, _grants.Share(2)));
        Assert.IsType<ExportedReply>(reply);

        await _client.DomainDiedAsync(new DomainId(1)); // as a host's watch of the hypervisor's domains reports it

        var died = owner.Next(Bound) ?? throw new InvalidOperationException("no event");
        Assert.Equal((0u, (WireMessage)new FrontendDiedEvent(1)), (died.Header.RequestId, died.Message));
        Assert.True(other.Quiet(TimeSpan.FromMilliseconds(300)));
        fd!.Dispose(); // the export was released by the cleanup; the client's descriptor was the last holder
        owner.Dispose();
        other.Dispose();
        await AssertLedgerAtBaseline();
    }

    [Fact]
    public async Task AStoppingDaemonAnswersWhatIsInFlight_ThenSaysGoodbye_AndEndsWhatTheClientOwned()
    {
        using var c = WireClient.Connect(_server.Path);
        c.Hello();
        var (reply, fd) = c.Call(new ExportRequest(1, 0, _grants.Share(1)));
        ulong handle = Assert.IsType<ExportedReply>(reply).Handle;
        uint wait = c.Send(new WaitReleasedRequest(handle, 1500)); // the client's descriptor holds the buffer: it times out

        var stop = _server.StopAsync(TimeSpan.FromSeconds(10));
        var (header, answer, _) = c.Next() ?? throw new InvalidOperationException("closed before the answer");
        Assert.Equal(wait, header.RequestId);
        Assert.Equal(HandleReply.TimedOut, Assert.IsType<HandleReply>(answer).Value);
        Assert.Equal(GoodbyeReason.Stopping, Assert.IsType<Goodbye>(c.Next()!.Value.Message).Reason);
        fd!.Dispose();
        await stop;
        c.Dispose();
        await AssertLedgerAtBaseline();
    }

    [Fact]
    public async Task AClientThatGoesAway_HasEverythingItOwnedEnded()
    {
        var c = WireClient.Connect(_server.Path);
        c.Hello();
        var (reply, fd) = c.Call(new ExportRequest(1, 0, _grants.Share(3)));
        Assert.IsType<ExportedReply>(reply);
        Assert.Equal(1, _sim.Ledger().Exports);
        c.Dispose(); // as if killed: no release
        fd!.Dispose(); // its descriptor goes with the process
        await AssertLedgerAtBaseline();
        Assert.Equal(0, _server.OwnedLifecycles);
    }

    [Fact]
    public async Task AMapIsRefusedBeforeAnythingChanges_OrHandedOverAsAFileOfItsOwn_AndAClientThatGoesAwayHasItUnmapped()
    {
        var c = WireClient.Connect(_server.Path);
        c.Hello(WireCapabilities.Export | WireCapabilities.Map);
        var refs = _grants.Share(2);
        Assert.Equal(WireErrorCode.InvalidArgument, Assert.IsType<ErrorReply>(c.Call(new MapRequest(1, 0x2, refs)).Reply).Code);
        var bogus = Assert.IsType<ErrorReply>(c.Call(new MapRequest(1, 0, [refs[0], 9999])).Reply);
        Assert.Equal((WireErrorCode.Device, (int)Errno.EINVAL), (bogus.Code, bogus.Errno));
        Assert.Equal(0, _gntdev.MapCount);

        var (reply, file) = c.Call(new MapRequest(1, MapRequest.ReadOnly, refs));
        var mapped = Assert.IsType<MappedReply>(reply);
        Assert.Equal(2u, mapped.PageCount);
        using (file)
        {
            Assert.Equal(2L * PageView.PageSize, RandomAccess.GetLength(file!));
            Assert.Equal(WireKind.Map, Assert.IsType<StatusReply>(c.Call(new HandleRequest(WireOpcode.Query, mapped.Handle)).Reply).Kind);
            Assert.Equal(1, _gntdev.MapCount);
            c.Dispose(); // as if killed: no unmap
            await AwaitAssertAsync(() => Assert.Equal(0, _gntdev.MapCount), Bound);
        }
        await AssertLedgerAtBaseline();
        Assert.Equal(0, _server.OwnedLifecycles);
    }

    [Fact]
    public async Task OneClientCannotTouchAnothersLifecycle()
    {
        using var owner = WireClient.Connect(_server.Path);
        using var other = WireClient.Connect(_server.Path);
        owner.Hello();
        other.Hello();
        var (reply, fd) = owner.Call(new ExportRequest(1, 0, _grants.Share(1)));
        ulong handle = Assert.IsType<ExportedReply>(reply).Handle;

        foreach (var request in new WireMessage[] { new HandleRequest(WireOpcode.Release, handle), new HandleRequest(WireOpcode.Query, handle), new WaitReleasedRequest(handle, 0) })
        {
            var refused = Assert.IsType<ErrorReply>(other.Call(request).Reply);
            Assert.Equal(WireErrorCode.NotFound, refused.Code);
        }
        Assert.Equal(WireState.Exported, Assert.IsType<StatusReply>(owner.Call(new HandleRequest(WireOpcode.Query, handle)).Reply).State);
        owner.Call(new HandleRequest(WireOpcode.Release, handle));
        fd!.Dispose();
        owner.Dispose();
        await AssertLedgerAtBaseline();
    }

    [Fact]
    public async Task AFrameThatBreaksTheProtocolGetsAGoodbye_AndTheConnectionEndsWithWhatItOwned()
    {
        using var c = WireClient.Connect(_server.Path);
        c.Hello();
        var (reply, fd) = c.Call(new ExportRequest(1, 0, _grants.Share(1)));
        Assert.IsType<ExportedReply>(reply);
        c.Socket.Send([1, 2, 3], []); // shorter than a header
        var goodbye = c.Next();
        Assert.NotNull(goodbye);
        Assert.Equal(GoodbyeReason.ProtocolError, Assert.IsType<Goodbye>(goodbye.Value.Message).Reason);
        Assert.Null(c.Next()); // then the end of the stream
        fd!.Dispose();
        await AssertLedgerAtBaseline();
    }

    [Fact]
    public async Task ARequestBeforeHello_AndAnUnspokenVersion_AreRefused()
    {
        using (var early = WireClient.Connect(_server.Path))
        {
            early.Send(new HandleRequest(WireOpcode.Query, 1));
            Assert.IsType<Goodbye>(early.Next()!.Value.Message);
        }
        using (var future = WireClient.Connect(_server.Path))
        {
            var refused = Assert.IsType<ErrorReply>(future.Call(new Hello(2, 3, WireCapabilities.Export)).Reply);
            Assert.Equal(WireErrorCode.VersionMismatch, refused.Code);
            Assert.IsType<Goodbye>(future.Next()!.Value.Message);
        }
        await AssertLedgerAtBaseline();
    }

    [Fact]
    public async Task ADomainTheUidMayNotActFor_AndAReservedOne_AreRefused()
    {
        using var c = WireClient.Connect(_server.Path);
        c.Hello();
        var reserved = Assert.IsType<ErrorReply>(c.Call(new ExportRequest(0x7FF0, 0, [8])).Reply);
        Assert.Equal(WireErrorCode.NotPermitted, reserved.Code);
        Assert.Equal(0, _sim.Ledger().Exports);
        await AssertLedgerAtBaseline();
    }

    [Fact]
    public async Task ADescriptorTheClientWasHanded_IsTheSameBufferWhenHandedBack_AndImports()
    {
        _sim.CreateDomain(2);
        using var c = WireClient.Connect(_server.Path);
        c.Hello();
        var (reply, fd) = c.Call(new ExportRequest(1, 0, _grants.Share(2)));
        var exported = Assert.IsType<ExportedReply>(reply);

        // The descriptor goes back with the request, as a client hands the daemon a device's buffer.
        var imported = Assert.IsType<ImportedReply>(c.Call(new ImportRequest(2, 2), fd).Reply);
        Assert.Equal(2, imported.Refs.Length);
        fd!.Dispose(); // the import holds the buffer now, not the client
        // Granted by the daemon's domain. (Pages of a gntdev export are another domain's: Xen refuses the second
        // frontend a map of them, as the simulator does; a device's own buffers are the ones to import.)
        Assert.All(imported.Refs, r => Assert.True(_sim.Backend.IsGranted(r)));

        Assert.IsType<HandleReply>(c.Call(new HandleRequest(WireOpcode.ReleaseImport, imported.Handle)).Reply);
        Assert.IsType<HandleReply>(c.Call(new HandleRequest(WireOpcode.Release, exported.Handle)).Reply);
        Assert.NotEqual(HandleReply.TimedOut, Assert.IsType<HandleReply>(c.Call(new WaitReleasedRequest(exported.Handle, 5000)).Reply).Value);
        c.Dispose();
        await AssertLedgerAtBaseline();
    }

    [Fact]
    public async Task AnImportOfADescriptorThatIsNoDmaBufIsRefused()
    {
        using var c = WireClient.Connect(_server.Path);
        c.Hello();
        string file = Path.Combine(_folder, "plain");
        File.WriteAllText(file, "not a buffer");
        using (var plain = File.OpenHandle(file))
        {
            var refused = Assert.IsType<ErrorReply>(c.Call(new ImportRequest(1, 1), plain).Reply);
            Assert.Equal(WireErrorCode.InvalidArgument, refused.Code);
            Assert.Equal((int)Errno.EINVAL, refused.Errno);
        }
        // The connection goes on.
        Assert.IsType<ErrorReply>(c.Call(new HandleRequest(WireOpcode.Query, 99)).Reply);
        await AssertLedgerAtBaseline();
    }
}
