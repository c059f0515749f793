using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using BufferActors.Actors.Persistence;

namespace BufferActors.Actors.Diagnostics;

/// <summary>
/// The instruments of one BufferActors instance (a manager, its supervisors and lifecycles) on a <see cref="Meter"/>
/// named <see cref="MeterName"/>: what is live, per kind and frontend domain, and how long the steps an operator waits
/// on take. Every count returns to zero when the lifecycles it counts are gone.
/// </summary>
/// <remarks>
/// The counts are totals kept where the state they mirror changes — lifecycles and pages where a domain supervisor
/// starts and forgets a lifecycle; reservation, quarantine and waits where a lifecycle's record changes (only events
/// change it) — and observed when a listener asks; deferred refs are read from the session's watch then.
/// </remarks>
public sealed class BufferActorsMetrics : IDisposable
{
    /// <summary>The meter's name: <c>dotnet-counters monitor --counters BufferActors</c>.</summary>
    public const string MeterName = "BufferActors";

    // Totals kept here and observed, not reported as deltas: a listener that starts late (dotnet-counters attached to a
    // running daemon, a Prometheus scrape) sees what is live now, not only what changed since it started.
    private readonly ConcurrentDictionary<(LifecycleKind Kind, ushort Domain), Totals> _byKind = new();
    private readonly ConcurrentDictionary<ushort, Totals> _byDomain = new();
    private readonly Histogram<double> _export;
    private readonly Histogram<double> _import;
    private readonly Histogram<double> _held;
    private readonly Histogram<double> _journalWrite;
    private readonly Histogram<long> _journalBatch;
    private readonly Histogram<double> _recovery;
    private Func<IReadOnlyList<DeferredGrants>>? _deferredSource;

    private readonly bool _enabled = true;

    /// <summary>Metrics that count nothing and publish no instrument (what <c>bench lifecycle</c> compares the cost of metrics against).</summary>
    public static BufferActorsMetrics Disabled { get; } = new(enabled: false);

    private BufferActorsMetrics(bool enabled)
    {
        _enabled = enabled;
        Meter = new Meter(MeterName + ".Disabled");
        _export = _import = _held = _journalWrite = _recovery = Meter.CreateHistogram<double>("disabled");
        _journalBatch = Meter.CreateHistogram<long>("disabled.batch");
    }

    /// <summary>Creates the instruments on a new meter (from <paramref name="factory"/> when given: a host's DI).</summary>
    public BufferActorsMetrics(IMeterFactory? factory = null)
    {
        Meter = factory?.Create(MeterName) ?? new Meter(MeterName);
        Meter.CreateObservableUpDownCounter("bufferactors.lifecycles.live", () => ByKind(t => t.Live), "{lifecycle}", "Live lifecycles, by kind and frontend domain.");
        Meter.CreateObservableUpDownCounter("bufferactors.pages", () => ByKind(t => t.Pages), "{page}", "Pages held by live lifecycles (mapped, exported, imported), by kind and frontend domain.");
        Meter.CreateObservableUpDownCounter("bufferactors.reservation.pages", () => ByDomain(t => t.Reservation), "{page}", "Pages by which DMA-backed exports lower the backend's reservation, by frontend domain.");
        Meter.CreateObservableUpDownCounter("bufferactors.exports.quarantined", () => ByDomain(t => t.Quarantined), "{buffer}", "Released exports still held past the quarantine time, by frontend domain.");
        Meter.CreateObservableUpDownCounter("bufferactors.waits.pending", () => ByDomain(t => t.Waits), "{wait}", "Waits for a release not answered yet, by frontend domain.");
        Meter.CreateObservableGauge("bufferactors.deferred.refs", ObserveDeferredRefs, "{ref}", "Refs of released imports whose end of access the kernel still defers (the frontend maps them).");
        Meter.CreateObservableGauge("bufferactors.deferred.oldest_age", ObserveOldestDeferred, "s", "Age of the oldest deferred end of access.");
        _export = Seconds("bufferactors.export.duration", "From an export's request to its answer (device call and journal).");
        _import = Seconds("bufferactors.import.duration", "From an import's request to its answer (device call and journal).");
        _held = Seconds("bufferactors.release.duration", "From the backend's release to the lifecycle's end, by kind: for an export, how long its holders kept the buffer after the backend let go; for an import, until every grant ended.");
        _journalWrite = Seconds("bufferactors.journal.write.duration", "One journal write, from its start to its acknowledgement.");
        _journalBatch = Meter.CreateHistogram<long>("bufferactors.journal.batch.size", "{event}", "Events in one journal write.", tags: null,
            new InstrumentAdvice<long> { HistogramBucketBoundaries = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048] });
        _recovery = Seconds("bufferactors.recovery.duration", "From a manager's start to the end of its recovery from the journal.");
    }

    // From a lifecycle step in memory (tens of microseconds) to a buffer a device holds for minutes.
    private static readonly double[] SecondsBuckets =
        [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];

    private Histogram<double> Seconds(string name, string description) =>
        Meter.CreateHistogram<double>(name, "s", description, tags: null, new InstrumentAdvice<double> { HistogramBucketBoundaries = SecondsBuckets });

    /// <summary>The meter: listen to it (a <c>MeterListener</c>, OpenTelemetry, <c>MetricCollector</c>) by instance or by name.</summary>
    public Meter Meter { get; }

    internal void LifecycleStarted(LifecycleId id, int pages) => CountLifecycle(id, 1, pages);

    internal void LifecycleEnded(LifecycleId id, int pages) => CountLifecycle(id, -1, -pages);

    private void CountLifecycle(LifecycleId id, int lifecycles, int pages)
    {
        if (!_enabled) return;
        var totals = _byKind.GetOrAdd((id.Kind, id.Domain.Value), static _ => new Totals());
        Interlocked.Add(ref totals.Live, lifecycles);
        Interlocked.Add(ref totals.Pages, pages);
    }

    /// <summary>A lifecycle's record went from <paramref name="before"/> to <paramref name="after"/> (null: it is gone).</summary>
    internal void RecordChanged(LifecycleRecord? before, LifecycleRecord? after)
    {
        if (!_enabled) return;
        var (r0, q0, w0) = Share(before);
        var (r1, q1, w1) = Share(after);
        if (r0 == r1 && q0 == q1 && w0 == w1) return;
        var totals = _byDomain.GetOrAdd((after ?? before)!.Id.Domain.Value, static _ => new Totals());
        if (r1 != r0) Interlocked.Add(ref totals.Reservation, r1 - r0);
        if (q1 != q0) Interlocked.Add(ref totals.Quarantined, q1 - q0);
        if (w1 != w0) Interlocked.Add(ref totals.Waits, w1 - w0);
    }

    /// <summary>What a record counts for while its lifecycle lives: reservation pages, quarantined, open waits.</summary>
    private static (int Reservation, int Quarantined, int Waits) Share(LifecycleRecord? r) =>
        r is null || r.IsFinished ? default : (r.ReservationPages, r.Quarantined ? 1 : 0, r.OpenWaits.Count);

    /// <summary>Where the deferred ends of access are read from when observed (the session's watch); null: nowhere.</summary>
    internal void ObserveDeferred(Func<IReadOnlyList<DeferredGrants>>? deferred) => _deferredSource = deferred;

    internal void Exported(TimeSpan took) => _export.Record(took.TotalSeconds);

    internal void Imported(TimeSpan took) => _import.Record(took.TotalSeconds);

    internal void ReleaseEnded(LifecycleKind kind, TimeSpan took) => _held.Record(took.TotalSeconds, new KeyValuePair<string, object?>("kind", kind.Name));

    internal void JournalWritten(TimeSpan took, int events)
    {
        _journalWrite.Record(took.TotalSeconds);
        _journalBatch.Record(events);
    }

    internal void Recovered(TimeSpan took) => _recovery.Record(took.TotalSeconds);

    private long ObserveDeferredRefs() => _deferredSource?.Invoke().Sum(d => (long)d.Refs.Count) ?? 0;

    private double ObserveOldestDeferred() =>
        _deferredSource?.Invoke() is { Count: > 0 } deferred ? Math.Max(0, (DateTimeOffset.UtcNow - deferred.Min(d => d.Since)).TotalSeconds) : 0;

    private IEnumerable<Measurement<long>> ByKind(Func<Totals, long> value)
    {
        foreach (var ((kind, domain), totals) in _byKind)
            yield return new Measurement<long>(value(totals), new KeyValuePair<string, object?>("kind", kind.Name), new KeyValuePair<string, object?>("domain", (int)domain));
    }

    private IEnumerable<Measurement<long>> ByDomain(Func<Totals, long> value)
    {
        foreach (var (domain, totals) in _byDomain)
            yield return new Measurement<long>(value(totals), new KeyValuePair<string, object?>("domain", (int)domain));
    }

    /// <summary>The running totals of one kind and domain, or of one domain.</summary>
    private sealed class Totals
    {
        public long Live;
        public long Pages;
        public long Reservation;
        public long Quarantined;
        public long Waits;
    }

    /// <summary>Ends the meter: its instruments stop reporting.</summary>
    public void Dispose() => Meter.Dispose();
}
