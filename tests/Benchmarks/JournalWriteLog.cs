using System.Collections.Concurrent;
using System.Collections.Immutable;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using Akka.Persistence;
using BufferActors.Actors.Diagnostics;

namespace BufferActors.Benchmarks;

/// <summary>
/// The events and duration of every journal write of a bench run, recorded by the counting journal of the stock
/// plugin (<see cref="CountingSqlWriteJournal"/>) or, for the journal actor's own write path, by its meter
/// (<see cref="Listen"/>), so the journal bench can report, and replay raw, the transaction sizes the journal actor produced.
/// </summary>
internal static class JournalWriteLog
{
    /// <summary>Events per write and its duration, since the last <see cref="Reset"/>.</summary>
    public static ConcurrentQueue<(int Rows, double Millis)> Writes { get; private set; } = new();

    /// <summary>Forgets the writes so far.</summary>
    public static void Reset() => Writes = new();

    /// <summary>
    /// Records the writes <paramref name="metrics"/> measures (<c>bufferactors.journal.write.duration</c> then
    /// <c>bufferactors.journal.batch.size</c>, from the journal actor's flush to its acknowledgement) until disposed.
    /// </summary>
    public static IDisposable Listen(BufferActorsMetrics metrics)
    {
        double lastSeconds = 0;
        var listener = new MeterListener
        {
            InstrumentPublished = (i, l) => { if (ReferenceEquals(i.Meter, metrics.Meter) && i.Name.StartsWith("bufferactors.journal.", StringComparison.Ordinal)) l.EnableMeasurementEvents(i); },
        };
        listener.SetMeasurementEventCallback<double>((i, v, _, _) => { if (i.Name == "bufferactors.journal.write.duration") lastSeconds = v; });
        listener.SetMeasurementEventCallback<long>((i, v, _, _) => { if (i.Name == "bufferactors.journal.batch.size") Writes.Enqueue(((int)v, lastSeconds * 1000)); });
        listener.Start();
        return listener;
    }

    /// <summary>Runs <paramref name="write"/> on <paramref name="messages"/> and records its size and duration when it ends.</summary>
    public static Task<IImmutableList<Exception>> Time(IEnumerable<AtomicWrite> messages, Func<IEnumerable<AtomicWrite>, Task<IImmutableList<Exception>>> write)
    {
        var list = messages as IReadOnlyCollection<AtomicWrite> ?? [.. messages];
        int rows = list.Sum(w => ((IImmutableList<IPersistentRepresentation>)w.Payload).Count);
        long t0 = Stopwatch.GetTimestamp();
        var writes = Writes;
        var task = write(list);
        task.ContinueWith(_ => writes.Enqueue((rows, Stopwatch.GetElapsedTime(t0).TotalMilliseconds)),
            CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        return task;
    }
}
