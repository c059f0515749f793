using System.Collections.Concurrent;
using BufferActors.Actors.Persistence;

namespace BufferActors.Host.Simulate;

/// <summary>
/// Seeded journal write faults for <c>simulate</c> (<see cref="LifecycleJournal.Settings.Faults"/>). The
/// decision for a write is a hash of the seed and of what is written (lifecycle, event kind, and how
/// many times that same step was written before), never of when or in which batch it is written, so
/// a seed injects the same faults on every run even though the journal actor runs on its own thread.
/// Rates and what they stand for: docs/fault-model.md.
/// </summary>
internal sealed class JournalFaultInjector(int seed, double rate)
{
    private readonly ConcurrentDictionary<string, int> _attempts = new(StringComparer.Ordinal);
    private int _rejected;
    private int _failed;

    /// <summary>Faults are injected only while armed (the driver disarms them around concurrent phases).</summary>
    public volatile bool Armed;

    /// <summary>Writes rejected so far.</summary>
    public int Rejected => Volatile.Read(ref _rejected);

    /// <summary>Storage failures injected so far.</summary>
    public int Failed => Volatile.Read(ref _failed);

    /// <summary>The fault for one atomic write.</summary>
    public JournalWriteFault Decide(IReadOnlyList<LifecycleEvent> events)
    {
        if (!Armed || rate <= 0 || events.Count == 0) return JournalWriteFault.None;
        var first = events[0];
        string step = $"{first.Id}/{first.GetType().Name}";
        int attempt = _attempts.AddOrUpdate(step, 1, (_, n) => n + 1);
        ulong h = Mix((ulong)(uint)seed, Fnv(step), (ulong)attempt);
        // A quarter of the simulator's fault rate: a journal write fails far less often than a device call.
        if ((h >> 11) * (1.0 / (1UL << 53)) >= rate / 4) return JournalWriteFault.None;
        if ((h & 3) == 0)
        {
            Interlocked.Increment(ref _failed);
            return JournalWriteFault.Fail;
        }
        Interlocked.Increment(ref _rejected);
        return JournalWriteFault.Reject;
    }

    private static ulong Fnv(string s)
    {
        ulong h = 14695981039346656037UL;
        foreach (char c in s) h = (h ^ c) * 1099511628211UL;
        return h;
    }

    private static ulong Mix(ulong a, ulong b, ulong c)
    {
        ulong h = a * 0x9E3779B97F4A7C15UL ^ b;
        h = (h ^ (h >> 30)) * 0xBF58476D1CE4E5B9UL ^ c;
        h = (h ^ (h >> 27)) * 0x94D049BB133111EBUL;
        return h ^ (h >> 31);
    }
}
