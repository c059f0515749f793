using BufferActors.Actors;
using BufferActors.Actors.Api;
using BufferActors.Actors.Diagnostics;
using BufferActors.Actors.Lifecycles;
using BufferActors.Actors.Supervision;
using BufferActors.Native;
using BufferActors.Native.Simulation;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;

namespace BufferActors.Tests.Diagnostics;

/// <summary>
/// The <c>BufferActors</c> meter, read with <see cref="MetricCollector{T}"/>: each instrument moves as the lifecycles
/// do (exports, imports, maps, DMA-backed reservation, pending waits, deferred ends of access), the durations are
/// recorded, and every up-down counter is back at zero when the ledger is back at its start.
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class MetricsTests : Akka.TestKit.Xunit2.TestKit
{
    private static readonly DomainId Dom1 = new(1);
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(5);
    private readonly XenSimulator _sim = new(new SimulatorOptions { Seed = 11 });
    private readonly SimulatorLedger _baseline;
    private readonly SimulatedDomain _frontend;
    private readonly FrontendGrants _grants;
    private readonly SimulatedGrantDevice _gntdev;
    private readonly DeviceSession _session;
    private readonly BufferActorsMetrics _metrics = new();
    private readonly BufferActorsClient _client;

    public MetricsTests() : base("akka.loglevel = WARNING")
    {
        _baseline = _sim.Ledger();
        _frontend = _sim.CreateDomain(1);
        _grants = new FrontendGrants(_frontend);
        _gntdev = _sim.OpenGrantDevice(_sim.StartProcess("backend"));
        _session = new DeviceSession(_gntdev);
        var services = LifecycleServices.Unjournaled(_session) with { Metrics = _metrics };
        _client = new BufferActorsClient(Sys, Sys.ActorOf(BufferManager.Props(services), "buffers"), Bound);
    }

    private MetricCollector<long> Collect(string instrument) => new(_metrics.Meter, instrument);

    /// <summary>The instrument's value now, summed over the series whose tags match (observed at this call).</summary>
    private static long Sum(MetricCollector<long> c, params (string Key, object Value)[] tags)
    {
        c.Clear();
        c.RecordObservableInstruments();
        return c.GetMeasurementSnapshot().Where(m => tags.All(t => Equals(m.Tags[t.Key], t.Value))).Sum(m => m.Value);
    }

    [Fact]
    public async Task LiveLifecyclesPagesReservationAndWaits_MoveWithTheLifecycles_AndReturnToZero()
    {
        using var live = Collect("bufferactors.lifecycles.live");
        using var pages = Collect("bufferactors.pages");
        using var reservation = Collect("bufferactors.reservation.pages");
        using var waits = Collect("bufferactors.waits.pending");
        using var exportDuration = new MetricCollector<double>(_metrics.Meter, "bufferactors.export.duration");
        using var releaseDuration = new MetricCollector<double>(_metrics.Meter, "bufferactors.release.duration");

        var map = await _client.MapAsync(Dom1, _grants.Share(3), readOnly: true);
        var export = await _client.ExportAsync(Dom1, _grants.Share(2), DmaBufFlags.WriteCombine);
        int holder = _gntdev.DuplicateFd(export.Fd); // a device holds the buffer
        Assert.Equal((1L, 1L), (Sum(live, ("kind", "map"), ("domain", 1)), Sum(live, ("kind", "export"), ("domain", 1))));
        Assert.Equal((3L, 2L), (Sum(pages, ("kind", "map")), Sum(pages, ("kind", "export"))));
        Assert.Equal(2L, Sum(reservation, ("domain", 1)));
        Assert.Single(exportDuration.GetMeasurementSnapshot());

        await _client.ReleaseAsync(export.Id);
        var waiting = _client.WaitReleasedAsync(export.Id, Bound);
        await AwaitAssertAsync(() => Assert.Equal(1L, Sum(waits)), Bound);

        _gntdev.CloseFd(holder); // the device lets go: released, the waiter answered, the reservation back
        Assert.Equal(WaitReleasedResult.Released, await waiting);
        await _client.UnmapAsync(map.Id);
        await AwaitAssertAsync(() => Assert.Equal(0L, Sum(live)), Bound);
        Assert.Equal((0L, 0L, 0L), (Sum(pages), Sum(reservation), Sum(waits)));
        Assert.Contains(releaseDuration.GetMeasurementSnapshot(), m => Equals(m.Tags["kind"], "export") && m.Value >= 0);
        AssertLedgerAtBaseline();
    }

    [Fact]
    public async Task DeferredRefsAndTheirAge_AreObserved_UntilTheFrontendUnmaps()
    {
        using var deferred = Collect("bufferactors.deferred.refs");
        using var oldest = new MetricCollector<double>(_metrics.Meter, "bufferactors.deferred.oldest_age");
        using var importDuration = new MetricCollector<double>(_metrics.Meter, "bufferactors.import.duration");
        int buffer = _sim.AddDevice("camera").AllocateBuffer(_gntdev.Process, 2);
        var import = await _client.ImportAsync(Dom1, buffer, 2);
        _gntdev.CloseFd(buffer);
        Assert.Single(importDuration.GetMeasurementSnapshot());
        int mapping = _frontend.MapForeign(DomainId.Dom0, import.Refs[0]);

        var released = await _client.ReleaseImportAsync(import.Id);
        Assert.Equal(1, released.Deferred);
        deferred.RecordObservableInstruments();
        oldest.RecordObservableInstruments();
        Assert.Equal(1L, deferred.LastMeasurement?.Value);
        Assert.True(oldest.LastMeasurement?.Value >= 0);

        _frontend.UnmapForeign(mapping);
        _sim.Tick();
        _session.ReapEndedAccess();
        deferred.RecordObservableInstruments();
        Assert.Equal(0L, deferred.LastMeasurement?.Value);
        await AwaitAssertAsync(async () => Assert.Equal(0, (await _client.SnapshotAsync()).LiveLifecycles), Bound);
        AssertLedgerAtBaseline();
    }

    [Fact]
    public async Task AManagerThatStops_EndsItsOwnMeter_ButNotOneItWasGiven()
    {
        var own = Sys.ActorOf(BufferManager.Props(new DeviceSession(_gntdev)), "own");
        var ended = new List<System.Diagnostics.Metrics.Meter>();
        using var listener = new System.Diagnostics.Metrics.MeterListener
        {
            InstrumentPublished = (instrument, l) => { if (instrument.Meter.Name == BufferActorsMetrics.MeterName) l.EnableMeasurementEvents(instrument); },
            MeasurementsCompleted = (instrument, _) => { lock (ended) ended.Add(instrument.Meter); },
        };
        listener.Start();

        Watch(own);
        Sys.Stop(own);
        ExpectTerminated(own);
        await AwaitAssertAsync(() => { lock (ended) Assert.Contains(ended, m => !ReferenceEquals(m, _metrics.Meter)); }, Bound);
        lock (ended) Assert.DoesNotContain(ended, m => ReferenceEquals(m, _metrics.Meter));
        // The given meter still reports: a collector on it sees what happens after the other manager stopped.
        using var live = Collect("bufferactors.lifecycles.live");
        var export = await _client.ExportAsync(Dom1, _grants.Share(1));
        Assert.Equal(1L, Sum(live));
        await _client.ReleaseAsync(export.Id);
        Assert.NotEqual(WaitReleasedResult.TimedOut, await _client.WaitReleasedAsync(export.Id, Bound)); // NotFound: over already
        await AwaitAssertAsync(() => Assert.Equal(0L, Sum(live)), Bound);
        AssertLedgerAtBaseline();
    }

    private void AssertLedgerAtBaseline()
    {
        _sim.Tick();
        _grants.EndAll();
        _gntdev.Dispose();
        Assert.Empty(_sim.Violations);
        Assert.Empty(_sim.Ledger().DifferencesFrom(_baseline));
    }

    protected override void AfterAll()
    {
        base.AfterAll();
        _metrics.Dispose();
        _sim.Dispose();
    }
}
