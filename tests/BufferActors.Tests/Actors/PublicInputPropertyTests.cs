using Akka.Actor;
using BufferActors.Actors;
using BufferActors.Actors.Api;
using BufferActors.Actors.Lifecycles;
using BufferActors.Actors.Persistence;
using BufferActors.Actors.Supervision;
using BufferActors.Native;
using BufferActors.Native.Simulation;
using CsCheck;

namespace BufferActors.Tests.Actors;

/// <summary>
/// Property tests (CsCheck) over the whole input range of the embedding API's entry points: every value is
/// served or refused with a typed error, and a value refused up front reaches neither the device nor the
/// journal. Nothing leaks: the ledger is back at its baseline after each property, and the journal's live set is empty.
/// </summary>
public sealed class PublicInputPropertyTests : Akka.TestKit.Xunit2.TestKit
{
    private static readonly DomainId Dom1 = new(1);
    private readonly XenSimulator _sim = new(new SimulatorOptions { Seed = 13 });
    private readonly SimulatorLedger _baseline;
    private readonly SimulatedDomain _frontend;
    private readonly SimulatedProcess _process;
    private readonly SimulatedGrantDevice _gntdev;
    private readonly CountingDevice _device;
    private readonly BufferActorsClient _client;
    private readonly FrontendGrants _grants;
    private readonly IActorRef _journal;
    private int _journaled; // events handed to the journal's storage

    public PublicInputPropertyTests() : base(new JournalStorage.InMemory().ToConfig().WithFallback("akka.loglevel = WARNING"))
    {
        _baseline = _sim.Ledger();
        _frontend = _sim.CreateDomain(1);
        _process = _sim.StartProcess("backend");
        _gntdev = _sim.OpenGrantDevice(_process);
        _device = new CountingDevice(_gntdev);
        _grants = new FrontendGrants(_frontend);
        var journal = _journal = Sys.ActorOf(LifecycleJournal.SupervisedProps(new LifecycleJournal.Settings(Faults: events =>
        {
            Interlocked.Add(ref _journaled, events.Count);
            return JournalWriteFault.None;
        })), "journal");
        var services = new LifecycleServices(new DeviceSession(_device), journal, TimeProvider.System, TimeSpan.FromSeconds(5));
        _client = new BufferActorsClient(Sys, Sys.ActorOf(BufferManager.Props(services), "buffers"), TimeSpan.FromSeconds(5));
    }

    /// <summary>Any int, with the edges and the neighbourhood of the page limit drawn often.</summary>
    private static readonly Gen<int> AnyCount = Gen.OneOf(Gen.Int, Gen.Int[-2, 3], Gen.Int[65534, 65538], Gen.OneOf(int.MinValue, int.MaxValue));

    private static readonly Gen<TimeSpan> AnyTimeout = Gen.OneOf(
        Gen.Long.Select(TimeSpan.FromTicks),
        Gen.Int[-5, 50].Select(ms => TimeSpan.FromMilliseconds(ms)),
        Gen.OneOf(TimeSpan.MaxValue, TimeSpan.MinValue, Timeout.InfiniteTimeSpan, TimeSpan.Zero, ExportedBuffer.LongestTimedWait,
            ExportedBuffer.LongestTimedWait + TimeSpan.FromTicks(1)));

    [Fact]
    public async Task AnExportOfAnyDomainCountAndFlags_IsServedOrRefused_AndWhatIsRefusedUpFrontReachesNothing()
    {
        var gen = Gen.Select(Gen.UShort, AnyCount, Gen.UInt);
        await gen.SampleAsync(async (domain, count, flags) =>
        {
            var id = new DomainId(domain);
            var f = (DmaBufFlags)flags;
            bool refusedUpFront = id.IsReserved || count <= 0 || count > _device.PageLimit || (flags & ~3u) != 0 || flags == 3;
            // Refs that name nothing: a request that gets past validation is refused by the device, typed.
            uint[] refs = count is > 0 and <= 70_000 ? [.. Enumerable.Range(0, count).Select(i => (uint)(100_000 + i))] : [];
            var (calls, journaled) = (_device.Calls, Volatile.Read(ref _journaled));
            var e = await Assert.ThrowsAsync<BufferActorsException>(() => _client.ExportAsync(id, refs, f));
            if (refusedUpFront)
            {
                Assert.Equal(ErrorCode.InvalidArgument, e.Code);
                Assert.Equal(calls, _device.Calls);
                Assert.Equal(journaled, Volatile.Read(ref _journaled));
            }
            else Assert.Equal(ErrorCode.Device, e.Code);
        }, iter: 300, threads: 1);
        await AwaitNoLiveLifecycles();
        AssertBaseline();
    }

    [Fact]
    public async Task AWaitWithAnyTimeOut_IsServedOrRefused_AndNeverEndsTheLifecycle()
    {
        var export = await _client.ExportAsync(Dom1, _grants.Share(2));
        var pending = new List<(TimeSpan Timeout, Task<(WaitReleasedResult Result, TimeSpan After)> Wait)>();
        await AnyTimeout.SampleAsync(async timeout =>
        {
            var (calls, journaled) = (_device.Calls, Volatile.Read(ref _journaled));
            var wait = Timed(_client.WaitReleasedAsync(export.Id, timeout));
            if (timeout < TimeSpan.Zero && timeout != Timeout.InfiniteTimeSpan)
            {
                var e = await Assert.ThrowsAsync<BufferActorsException>(() => wait);
                Assert.Equal(ErrorCode.InvalidArgument, e.Code);
                Assert.Equal(calls, _device.Calls);
                Assert.Equal(journaled, Volatile.Read(ref _journaled));
            }
            else if (ExportedBuffer.WaitsForever(timeout) || timeout > TimeSpan.FromMilliseconds(50)) pending.Add((timeout, wait));
            else Assert.Equal(WaitReleasedResult.TimedOut, (await wait).Result);
            Assert.Equal("Exported", (await _client.StatusAsync(export.Id)).State); // no time-out stops the lifecycle
        }, iter: 200, threads: 1);
        // A wait answered before the release timed out, and not before its time-out passed.
        var answeredBefore = pending.Where(p => p.Wait.IsCompleted).ToList();
        await _client.ReleaseAsync(export.Id);
        foreach (var (timeout, wait) in pending)
        {
            var (result, after) = await wait.WaitAsync(TimeSpan.FromSeconds(5));
            if (answeredBefore.Any(p => p.Wait == wait) || result == WaitReleasedResult.TimedOut)
            {
                Assert.Equal(WaitReleasedResult.TimedOut, result);
                Assert.True(after >= timeout - TimerSlack, $"a wait of {timeout} timed out after {after}");
            }
            else Assert.Equal(WaitReleasedResult.Released, result);
            // No wait that outlasts the test (hours, years, infinite) is answered by anything but the release.
            if (ExportedBuffer.WaitsForever(timeout) || timeout > TimeSpan.FromHours(1)) Assert.Equal(WaitReleasedResult.Released, result);
        }
        await AwaitNoLiveLifecycles();
        AssertBaseline();
    }

    [Fact]
    public async Task AnImportOfAnyFdCountAndDomain_IsServedOrRefused_AndANegativeFdReachesNothing()
    {
        var gen = Gen.Select(Gen.UShort, Gen.OneOf(Gen.Int, Gen.Int[-3, 40]), AnyCount);
        await gen.SampleAsync(async (domain, fd, count) =>
        {
            var id = new DomainId(domain);
            bool refusedUpFront = id.IsReserved || count <= 0 || count > _device.PageLimit || fd < 0;
            var (calls, journaled) = (_device.Calls, Volatile.Read(ref _journaled));
            // Only the fds of the backend's own gntdev exist in this process: none of them is a dma-buf of that size.
            var e = await Assert.ThrowsAsync<BufferActorsException>(() => _client.ImportAsync(id, fd, count));
            if (refusedUpFront)
            {
                Assert.Equal(ErrorCode.InvalidArgument, e.Code);
                Assert.Equal(calls, _device.Calls);
                Assert.Equal(journaled, Volatile.Read(ref _journaled));
            }
            else Assert.Equal(ErrorCode.Device, e.Code);
        }, iter: 300, threads: 1);
        await AwaitNoLiveLifecycles();
        AssertBaseline();
    }

    [Fact]
    public async Task AnAttachWithAnyDirection_IsServedOrRefused_AndAnUnknownOneReachesNothing()
    {
        var export = await _client.ExportAsync(Dom1, _grants.Share(1));
        int n = 0;
        await Gen.Int.SampleAsync(async direction =>
        {
            var d = (DmaDirection)direction;
            string consumer = $"device-{n++}";
            int journaled = Volatile.Read(ref _journaled);
            if (d is DmaDirection.Bidirectional or DmaDirection.ToDevice or DmaDirection.FromDevice)
            {
                await _client.AttachAsync(export.Id, consumer, d);
                await _client.DetachAsync(export.Id, consumer);
                return;
            }
            var e = await Assert.ThrowsAsync<BufferActorsException>(() => _client.AttachAsync(export.Id, consumer, d));
            Assert.Equal(ErrorCode.InvalidArgument, e.Code);
            Assert.Equal(journaled, Volatile.Read(ref _journaled));
        }, iter: 200, threads: 1);
        await _client.ReleaseAsync(export.Id);
        await AwaitNoLiveLifecycles();
        AssertBaseline();
    }

    [Fact]
    public async Task NullRefsAreRefusedBeforeAnythingIsSent()
    {
        int calls = _device.Calls;
        await Assert.ThrowsAsync<ArgumentNullException>(() => _client.ExportAsync(Dom1, null!));
        await Assert.ThrowsAsync<ArgumentNullException>(() => _client.MapAsync(Dom1, null!));
        Assert.Equal(calls, _device.Calls);
        AssertBaseline();
    }

    /// <summary>How early a timer may fire: the scheduler's tick.</summary>
    private static readonly TimeSpan TimerSlack = TimeSpan.FromMilliseconds(10);

    private static async Task<(WaitReleasedResult Result, TimeSpan After)> Timed(Task<WaitReleasedResult> wait)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var result = await wait;
        return (result, clock.Elapsed);
    }

    /// <summary>No lifecycle is live in the actors, and none in the journal either once what lifecycles owed it is written.</summary>
    private async Task AwaitNoLiveLifecycles()
    {
        await AwaitAssertAsync(async () => Assert.Equal(0, (await _client.SnapshotAsync()).LiveLifecycles), TimeSpan.FromSeconds(5));
        await _client.FlushJournalAsync();
        Assert.Empty((await _journal.Ask<LifecycleJournal.Live>(new LifecycleJournal.GetLive(), TimeSpan.FromSeconds(5))).Lifecycles);
    }

    private void AssertBaseline()
    {
        _grants.EndAll();
        _gntdev.Dispose();
        Assert.Empty(_sim.Violations);
        Assert.Empty(_sim.Ledger().DifferencesFrom(_baseline));
    }

    protected override void AfterAll()
    {
        base.AfterAll();
        _sim.Dispose();
    }
}
