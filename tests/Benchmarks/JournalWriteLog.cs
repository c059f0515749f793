using System.Collections.Concurrent;
using System.Collections.Immutable;
using System.Diagnostics;
using Akka.Persistence;

namespace BufferActors.Benchmarks;

/// <summary>
/// The events and duration of every journal write of a bench run, recorded by the counting journals
/// (<see cref="CountingSqlWriteJournal"/>, <see cref="CountingSqliteBatchWriteJournal"/>), so the journal
/// bench can report, and replay raw, the transaction sizes the journal actor produced.
/// </summary>
internal static class JournalWriteLog
{
    /// <summary>Events per write and its duration, since the last <see cref="Reset"/>.</summary>
    public static ConcurrentQueue<(int Rows, double Millis)> Writes { get; private set; } = new();

    /// <summary>Forgets the writes so far.</summary>
    public static void Reset() => Writes = new();

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
