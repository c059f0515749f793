using System.Diagnostics;
using BufferActors.Actors.Api;
using BufferActors.Native.Simulation;

namespace BufferActors.Benchmarks;

/// <summary>The benches' closing check: nothing live in the actors, everything the simulator holds back at its baseline.</summary>
internal static class LedgerCheck
{
    /// <summary>Waits up to <paramref name="patience"/> for every lifecycle to finish; returns how many are still live.</summary>
    public static async Task<int> WaitUntilNoneLive(BufferActorsClient client, TimeSpan patience)
    {
        var deadline = Stopwatch.StartNew();
        while ((await client.SnapshotAsync().ConfigureAwait(false)).LiveLifecycles > 0 && deadline.Elapsed < patience)
            await Task.Delay(10).ConfigureAwait(false);
        return (await client.SnapshotAsync().ConfigureAwait(false)).LiveLifecycles;
    }

    /// <summary>
    /// Runs one timer period (deferred end-access retries), prints the ledger, and adds the simulator's
    /// invariant violations and every counter that differs from <paramref name="baseline"/> to
    /// <paramref name="problems"/>, which it prints. True when there are none.
    /// </summary>
    public static bool Report(XenSimulator sim, SimulatorLedger baseline, List<string> problems, TextWriter output, string indent = "  ")
    {
        sim.Tick();
        problems.AddRange(sim.Violations);
        var ledger = sim.Ledger();
        problems.AddRange(ledger.DifferencesFrom(baseline));
        output.WriteLine($"{indent}ledger: maps={ledger.Maps} mapped-grants={ledger.MappedGrants} granted-refs={ledger.GrantedRefs} dma-bufs={ledger.DmaBufs} " +
            $"attachments={ledger.Attachments} fds={ledger.OpenFds} exports={ledger.Exports} imports={ledger.Imports} " +
            $"reservation={ledger.ReservationPages:+0;-0;0} deferred={ledger.DeferredRefs}");
        if (problems.Count == 0)
        {
            output.WriteLine($"{indent}ledger at baseline, no violations");
            return true;
        }
        output.WriteLine($"{indent}ledger NOT at baseline:");
        foreach (var p in problems.Take(20)) output.WriteLine($"{indent}  {p}");
        return false;
    }
}
