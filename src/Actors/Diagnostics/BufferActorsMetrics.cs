using System.Diagnostics;
using System.Diagnostics.Metrics;
using BufferActors.Actors.Persistence;

namespace BufferActors.Actors.Diagnostics;

/// <summary>
/// The instruments of one BufferActors instance (a manager, its supervisors and lifecycles) on a <see cref="Meter"/>
/// named <see cref="MeterName"/>: what is live, per kind and frontend domain, and how long the steps an operator waits
/// on take. Every up-down counter returns to zero when the lifecycles it counts are gone.
/// </summary>
/// <remarks>
/// Counters move where the state they mirror changes: lifecycles and pages where a domain supervisor starts and
/// forgets a lifecycle; reservation, quarantine and waits where a lifecycle's record changes (only events change it);
/// deferred refs where the session starts and stops watching them. With no listener an instrument costs a check.
/// </remarks>
public sealed class BufferActorsMetrics : IDisposable
{
    /// <summary>The meter's name: <c>dotnet-counters monitor --counters BufferActors</c>.</summary>
    public const string MeterName = "BufferActors";

    private readonly UpDownCounter<long> _live;
    private readonly UpDownCounter<long> _pages;
    private readonly UpDownCounter<long> _reservation;
    private readonly UpDownCounter<long> _quarantined;
    private readonly UpDownCounter<long> _waits;
    private readonly Histogram<double> _export;
    private readonly Histogram<double> _import;
    private readonly Histogram<double> _held;
    private readonly Histogram<double> _journalWrite;
    private readonly Histogram<long> _journalBatch;
    private readonly Histogram<double> _recovery;
    private readonly object?[] _domains = new object?[DomainId.FirstReserved]; // boxed once: a tag costs no allocation
    private Func<IReadOnlyList<DeferredGrants>>? _deferredSource;

    /// <summary>Creates the instruments on a new meter (from <paramref name="factory"/> when given: a host's DI).</summary>
    public BufferActorsMetrics(IMeterFactory? factory = null)
    {
        Meter = factory?.Create(MeterName) ?? new Meter(MeterName);
        _live = Meter.CreateUpDownCounter<long>("bufferactors.lifecycles.live", "{lifecycle}", "Live lifecycles, by kind and frontend domain.");
        _pages = Meter.CreateUpDownCounter<long>("bufferactors.pages", "{page}", "Pages held by live lifecycles (mapped, exported, imported), by kind and frontend domain.");
        _reservation = Meter.CreateUpDownCounter<long>("bufferactors.reservation.pages", "{page}", "Pages by which DMA-backed exports lower the backend's reservation, by frontend domain.");
        _quarantined = Meter.CreateUpDownCounter<long>("bufferactors.exports.quarantined", "{buffer}", "Released exports still held past the quarantine time, by frontend domain.");
        _waits = Meter.CreateUpDownCounter<long>("bufferactors.waits.pending", "{wait}", "Waits for a release not answered yet, by frontend domain.");
        Meter.CreateObservableGauge("bufferactors.deferred.refs", ObserveDeferredRefs, "{ref}", "Refs of released imports whose end of access the kernel still defers (the frontend maps them).");
        Meter.CreateObservableGauge("bufferactors.deferred.oldest_age", ObserveOldestDeferred, "s", "Age of the oldest deferred end of access.");
        _export = Meter.CreateHistogram<double>("bufferactors.export.duration", "s", "From an export's request to its answer (device call and journal).");
        _import = Meter.CreateHistogram<double>("bufferactors.import.duration", "s", "From an import's request to its answer (device call and journal).");
        _held = Meter.CreateHistogram<double>("bufferactors.release.duration", "s", "From the backend's release to the lifecycle's end, by kind: for an export, how long its holders kept the buffer after the backend let go; for an import, until every grant ended.");
        _journalWrite = Meter.CreateHistogram<double>("bufferactors.journal.write.duration", "s", "One journal write, from its first queued record to its acknowledgement.");
        _journalBatch = Meter.CreateHistogram<long>("bufferactors.journal.batch.size", "{event}", "Events in one journal write.");
        _recovery = Meter.CreateHistogram<double>("bufferactors.recovery.duration", "s", "From a manager's start to the end of its recovery from the journal.");
    }

    /// <summary>The meter: listen to it (a <c>MeterListener</c>, OpenTelemetry, <c>MetricCollector</c>) by instance or by name.</summary>
    public Meter Meter { get; }

    internal void LifecycleStarted(LifecycleId id, int pages)
    {
        var kind = new KeyValuePair<string, object?>("kind", id.Kind.Name);
        var domain = Domain(id.Domain);
        _live.Add(1, kind, domain);
        _pages.Add(pages, kind, domain);
    }

    internal void LifecycleEnded(LifecycleId id, int pages)
    {
        var kind = new KeyValuePair<string, object?>("kind", id.Kind.Name);
        var domain = Domain(id.Domain);
        _live.Add(-1, kind, domain);
        _pages.Add(-pages, kind, domain);
    }

    /// <summary>A lifecycle's record went from <paramref name="before"/> to <paramref name="after"/> (null: it is gone).</summary>
    internal void RecordChanged(LifecycleRecord? before, LifecycleRecord? after)
    {
        var (r0, q0, w0) = Share(before);
        var (r1, q1, w1) = Share(after);
        if (r0 == r1 && q0 == q1 && w0 == w1) return;
        var domain = Domain((after ?? before)!.Id.Domain);
        if (r1 != r0) _reservation.Add(r1 - r0, domain);
        if (q1 != q0) _quarantined.Add(q1 - q0, domain);
        if (w1 != w0) _waits.Add(w1 - w0, domain);
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

    private KeyValuePair<string, object?> Domain(DomainId domain) =>
        new("domain", domain.IsReserved ? (int)domain.Value : _domains[domain.Value] ??= (int)domain.Value);

    /// <summary>A stopwatch start for the durations above.</summary>
    internal static long Now() => Stopwatch.GetTimestamp();

    /// <summary>Ends the meter: its instruments stop reporting.</summary>
    public void Dispose() => Meter.Dispose();
}
