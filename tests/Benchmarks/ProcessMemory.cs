using System.Runtime;

namespace BufferActors.Benchmarks;

/// <summary>
/// What the process holds at one moment, taken after a full compacting collection so that garbage
/// does not count: the managed heap, what the GC has committed, and the kernel's view (resident set,
/// and its anonymous part, i.e. private memory not backed by a file or the simulator's memfds).
/// </summary>
internal readonly record struct ProcessMemory(long ManagedHeap, long GcCommitted, long Resident, long ResidentAnonymous)
{
    /// <summary>Collects everything collectable (twice, around the finalizers), then reads the counters.</summary>
    public static ProcessMemory Take()
    {
        GCSettings.LargeObjectHeapCompactionMode = GCLargeObjectHeapCompactionMode.CompactOnce;
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Forced, blocking: true, compacting: true);
        GC.WaitForPendingFinalizers();
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Forced, blocking: true, compacting: true);
        return new ProcessMemory(GC.GetTotalMemory(forceFullCollection: false), GC.GetGCMemoryInfo().TotalCommittedBytes,
            StatusBytes("VmRSS"), StatusBytes("RssAnon"));
    }

    /// <summary>
    /// A baseline: <see cref="Take"/> repeated until the resident set stops shrinking. The GC gives
    /// memory it no longer needs back to the kernel gradually, after the collection; a baseline taken
    /// while it still holds memory freed by an earlier phase would make the growth that follows look
    /// smaller than it is.
    /// </summary>
    public static ProcessMemory TakeSettled()
    {
        var sample = Take();
        for (int i = 0; i < 40; i++)
        {
            Thread.Sleep(250);
            var next = Take();
            bool settled = next.Resident > sample.Resident - (1 << 20); // less than 1 MiB given back in 250 ms
            sample = next;
            if (settled) break;
        }
        return sample;
    }

    /// <summary>The growth from <paramref name="before"/> to this sample.</summary>
    public ProcessMemory Since(ProcessMemory before) =>
        new(ManagedHeap - before.ManagedHeap, GcCommitted - before.GcCommitted, Resident - before.Resident, ResidentAnonymous - before.ResidentAnonymous);

    /// <summary>A <c>/proc/self/status</c> field given in kB, in bytes.</summary>
    public static long StatusBytes(string field)
    {
        string prefix = field + ":";
        foreach (var line in File.ReadLines("/proc/self/status"))
            if (line.StartsWith(prefix, StringComparison.Ordinal))
                return long.Parse(line.AsSpan(prefix.Length).Trim().TrimEnd("kB").Trim()) * 1024;
        throw new InvalidOperationException($"{field} not found in /proc/self/status");
    }
}
