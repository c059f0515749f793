using Akka.Actor;
using BufferActors.Actors;
using BufferActors.Actors.Api;
using BufferActors.Actors.Lifecycles;
using BufferActors.Actors.Persistence;
using BufferActors.Actors.Persistence.Replay;
using BufferActors.Actors.Supervision;
using BufferActors.Native;
using BufferActors.Native.Simulation;

namespace BufferActors.Tests.Journaled;

/// <summary>
/// The journal tells the truth about every lifecycle: however a lifecycle ends — a fault in one of its handlers,
/// its domain's death, a journal that refused its last write, a device that held the buffer past the
/// lifecycle's stop — the live set replayed from the journal equals what the kernel still holds, and the
/// replay shows no anomaly.
/// </summary>
public sealed class JournalTruthTests : IDisposable
{
    private static readonly DomainId Dom1 = new(1);
    private readonly string _path = Path.Combine(Path.GetTempPath(), $"ba-truth-{Guid.NewGuid():N}.db");
    private readonly XenSimulator _sim = new(new SimulatorOptions { Seed = 3 });
    private readonly SimulatorLedger _baseline;
    private readonly SimulatedDomain _frontend;
    private readonly SimulatedProcess _process;
    private readonly SimulatedGrantDevice _gntdev;
    private readonly SimulatedDevice _display;
    private readonly JournalStorage _storage;
    private volatile string? _throwAt; // the handler whose next run throws, once

    public JournalTruthTests()
    {
        _baseline = _sim.Ledger();
        _frontend = _sim.CreateDomain(1);
        _process = _sim.StartProcess("backend");
        _gntdev = _sim.OpenGrantDevice(_process);
        _display = _sim.AddDevice("display");
        _storage = new JournalStorage.Sqlite(_path);
        _storage.Prepare();
    }

    private DeviceSession NewSession() => new(_gntdev)
    {
        HandlerCheckpoint = (_, handler) =>
        {
            if (handler == _throwAt && Interlocked.CompareExchange(ref _throwAt, null, handler) == handler)
                throw new InvalidOperationException($"injected fault in {handler}");
        },
    };

    private readonly List<uint> _shared = [];

    private uint[] Share(int pages)
    {
        var refs = _frontend.GrantPages(DomainId.Dom0, _frontend.AllocatePages(pages), pages).ToArray();
        _shared.AddRange(refs);
        return refs;
    }

    [Fact]
    public async Task AnExportStoppedByAFaultInItsRelease_EndsReleasedInTheJournal_WithItsReservationAndWaiter()
    {
        await using (var host = new JournaledHost(NewSession(), _storage.ToConfig()))
        {
            var export = await host.Client.ExportAsync(Dom1, Share(4), DmaBufFlags.WriteCombine);
            var waitJournaled = host.WrittenAsync(e => e is WaitRequested w && w.Id == export.Id);
            var wait = host.Client.WaitReleasedAsync(export.Id, TimeSpan.FromSeconds(30));
            await waitJournaled;
            _throwAt = nameof(ExportedBuffer.Release);
            await Assert.ThrowsAsync<BufferActorsException>(() => host.Client.ReleaseAsync(export.Id));
            Assert.Equal(WaitReleasedResult.Released, await wait); // the supervisor stopped it; PostStop gave the buffer up
            await host.Client.FlushJournalAsync();
            Assert.Empty((await host.LiveAsync()).Lifecycles);
        }
        var timeline = await JournalReader.ReadTimelineAsync(_storage);
        Assert.Empty(timeline.Live);
        Assert.Empty(timeline.Anomalies);
        var events = Assert.Single(timeline.Lifecycles).Events.Select(e => e.Event).ToList();
        Assert.IsType<Released>(events[^1]);
        Assert.Contains(events, e => e is ReservationRestored { Pages: 4 });
        Assert.Contains(events, e => e is WaitAnswered);
        AssertBaseline();
    }

    [Fact]
    public async Task AnExportStoppedWhileADeviceHoldsIt_StaysLiveInTheJournalUntilTheKernelReleasesIt()
    {
        DeviceSession session = NewSession();
        await using (var host = new JournaledHost(session, _storage.ToConfig()))
        {
            var export = await host.Client.ExportAsync(Dom1, Share(2));
            var holder = _display.Attach(_process, export.Fd);
            await host.Client.AttachAsync(export.Id, "display", DmaDirection.ToDevice);
            _throwAt = nameof(ExportedBuffer.Release);
            await Assert.ThrowsAsync<BufferActorsException>(() => host.Client.ReleaseAsync(export.Id));
            await host.Client.FlushJournalAsync();
            Assert.Equal(0, (await host.Client.SnapshotAsync()).LiveLifecycles); // the lifecycle actor is gone...
            Assert.Equal(1, _sim.Ledger().Exports - _baseline.Exports);          // ...the kernel still has the buffer...
            Assert.Equal(export.Id, Assert.Single((await host.LiveAsync()).Lifecycles).Id); // ...and the journal says so

            holder.Detach(); // the device lets go without telling BufferActors
            Assert.Equal(1, session.ReapParkedNumbers());
            await host.Client.FlushJournalAsync();
            Assert.Empty((await host.LiveAsync()).Lifecycles);
        }
        var timeline = await JournalReader.ReadTimelineAsync(_storage);
        Assert.Empty(timeline.Anomalies); // the release closes the attachment it recorded: no unmap-before-detach
        Assert.IsType<Released>(Assert.Single(timeline.Lifecycles).Events[^1].Event);
        AssertBaseline();
    }

    [Fact]
    public async Task AnImportStoppedByAFault_AndAMapStoppedByItsDomainsDeath_EndInTheJournal()
    {
        var camera = _sim.AddDevice("camera");
        int buffer = camera.AllocateBuffer(_process, 2);
        await using (var host = new JournaledHost(NewSession(), _storage.ToConfig()))
        {
            var import = await host.Client.ImportAsync(Dom1, buffer, 2);
            _throwAt = nameof(ImportAttachment.Release);
            await Assert.ThrowsAsync<BufferActorsException>(() => host.Client.ReleaseImportAsync(import.Id));

            var map = await host.Client.MapAsync(Dom1, Share(2));
            var unmapped = host.WrittenAsync(e => e is Unmapped u && u.Id == map.Id);
            await host.Client.DomainDiedAsync(Dom1);
            await unmapped; // the map was stopped with its domain, and its PostStop owed the journal its end
            await host.Client.FlushJournalAsync();
            Assert.Empty((await host.LiveAsync()).Lifecycles);
        }
        _process.Close(buffer);
        var timeline = await JournalReader.ReadTimelineAsync(_storage);
        Assert.Empty(timeline.Live);
        Assert.Empty(timeline.Anomalies);
        Assert.Contains(timeline.Lifecycles, l => l.Id.Kind == LifecycleKind.Import && l.Events[^1].Event is AccessEnded);
        Assert.Contains(timeline.Lifecycles, l => l.Id.Kind == LifecycleKind.Map && l.Events[^1].Event is Unmapped);
        AssertBaseline();
    }

    [Fact]
    public async Task AReleaseTheJournalRejected_IsWrittenByTheOutbox_OnceTheJournalTakesWritesAgain()
    {
        int rejections = 3;
        var settings = new LifecycleJournal.Settings(Faults: events =>
            events.Any(e => e is Released) && Interlocked.Decrement(ref rejections) >= 0 ? JournalWriteFault.Reject : JournalWriteFault.None);
        await using (var host = new JournaledHost(NewSession(), _storage.ToConfig(), journalSettings: settings))
        {
            var export = await host.Client.ExportAsync(Dom1, Share(2));
            await host.Client.ReleaseAsync(export.Id);
            // The lifecycle's own write of its release was rejected; the buffer is released in the kernel all the same.
            Assert.NotEqual(WaitReleasedResult.TimedOut, await host.Client.WaitReleasedAsync(export.Id, TimeSpan.FromSeconds(5)));
            await host.Client.FlushJournalAsync(); // the outbox retried through two more rejections
            Assert.Empty((await host.LiveAsync()).Lifecycles);
        }
        Assert.True(rejections < 0);
        var timeline = await JournalReader.ReadTimelineAsync(_storage);
        Assert.Empty(timeline.Live);
        Assert.Empty(timeline.Anomalies);
        AssertBaseline();
    }

    [Fact]
    public async Task AQuarantinedExportIsJournaledQuarantined_AndLiveUntilReleased()
    {
        var settings = new BufferManager.Settings(DomainLifecycles.Quotas.Default,
            new ExportSettings(TimeSpan.FromMilliseconds(1), TimeSpan.FromMilliseconds(5), TimeSpan.FromMilliseconds(20)));
        await using (var host = new JournaledHost(NewSession(), _storage.ToConfig(), settings: settings))
        {
            var export = await host.Client.ExportAsync(Dom1, Share(2));
            var holder = _display.Attach(_process, export.Fd); // a holder BufferActors was not told about
            var quarantined = host.WrittenAsync(e => e is Quarantined q && q.Id == export.Id);
            await host.Client.ReleaseAsync(export.Id);
            await quarantined;
            Assert.True(Assert.Single((await host.LiveAsync()).Lifecycles).Quarantined);
            Assert.True((await host.Client.StatusAsync(export.Id)).Quarantined);
            holder.Detach();
            Assert.Equal(WaitReleasedResult.Released, await host.Client.WaitReleasedAsync(export.Id, TimeSpan.FromSeconds(5)));
            Assert.Empty((await host.LiveAsync()).Lifecycles);
        }
        var timeline = await JournalReader.ReadTimelineAsync(_storage);
        var events = Assert.Single(timeline.Lifecycles).Events.Select(e => e.Event).ToList();
        Assert.Contains(events, e => e is Quarantined);
        Assert.IsType<Released>(events[^1]);
        Assert.Empty(timeline.Anomalies);
        AssertBaseline();
    }

    private void AssertBaseline()
    {
        _sim.Tick();
        foreach (var r in _shared) Assert.True(_frontend.EndAccess(r), $"ref {r} still mapped");
        _gntdev.Dispose();
        Assert.Empty(_sim.Violations);
        Assert.Empty(_sim.Ledger().DifferencesFrom(_baseline));
    }

    public void Dispose()
    {
        _sim.Dispose();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        File.Delete(_path);
    }
}
