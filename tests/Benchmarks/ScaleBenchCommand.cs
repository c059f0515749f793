using System.CommandLine;
using System.Reflection;
using System.Runtime;
using System.Runtime.InteropServices;

namespace BufferActors.Benchmarks;

/// <summary>
/// <c>bench scale</c>: 100,000 live export lifecycles of small buffers; memory per lifecycle and the
/// release-to-waiter notification latency with all of them live. Figures go in docs/performance.md.
/// </summary>
internal static class ScaleBenchCommand
{
    /// <summary>Target: whole-process memory per live lifecycle.</summary>
    private const double BytesTarget = 4096;

    /// <summary>Target: p99 of the release-to-waiter notification, in microseconds.</summary>
    private const double P99TargetMicros = 1000;

    public static Command Create()
    {
        var lifecycles = new Option<int>("--lifecycles") { DefaultValueFactory = _ => 100_000, Description = "Export lifecycles kept live at once." };
        var pages = new Option<int>("--pages") { DefaultValueFactory = _ => 1, Description = "Pages per buffer." };
        var domains = new Option<int>("--domains")
        {
            DefaultValueFactory = _ => 4,
            Description = "Frontend domains (the per-domain buffer quota is raised to fit; 4 keeps every domain within Xen's default 32,768 grant refs).",
        };
        var sample = new Option<int>("--sample") { DefaultValueFactory = _ => 10_000, Description = "Releases timed one at a time (and as many again in batches)." };
        var batch = new Option<int>("--batch") { DefaultValueFactory = _ => 1_000, Description = "Releases issued at once in the batched latency phase (0 skips it)." };
        var warmup = new Option<int>("--warmup") { DefaultValueFactory = _ => 2_000, Description = "Untimed full lifecycles first." };
        var journal = new Option<string?>("--journal") { Description = "Journal the lifecycles: a fresh SQLite file or a PostgreSQL connection string (default: no journal)." };
        var command = new Command("scale", "Many live export lifecycles of small buffers: memory per lifecycle (actors + simulator, and the simulator alone) and release-to-waiter latency.");
        foreach (var option in new Option[] { lifecycles, pages, domains, sample, batch, warmup, journal }) command.Options.Add(option);
        command.SetAction(r => BenchReport.Run(r, (output, report) => RunAsync(new ScaleBenchSettings(r.GetValue(lifecycles), r.GetValue(pages), r.GetValue(domains), r.GetValue(sample),
            r.GetValue(batch), r.GetValue(warmup), r.GetValue(journal)), output, report)));
        return command;
    }

    /// <summary>
    /// Runs the actor phase, then the simulator alone on the same buffers, and prints memory per lifecycle,
    /// latencies and the verdict against the targets. Exit code 0 only when both phases ended with the
    /// simulator's ledger at its baseline and every wait answered Released; 2 for invalid settings.
    /// </summary>
    internal static async Task<int> RunAsync(ScaleBenchSettings s, TextWriter output, BenchReport? report = null)
    {
        if (s.Problem() is { } problem)
        {
            output.WriteLine($"bench scale: {problem}");
            return 2;
        }
        if (s.Journal is { } path && !path.Contains('=') && File.Exists(path))
        {
            output.WriteLine($"bench scale: {path} exists; give a fresh journal file (an old one would be recovered first)");
            return 2;
        }
        string build = typeof(ScaleBenchCommand).Assembly.GetCustomAttribute<AssemblyConfigurationAttribute>()?.Configuration ?? "?";
        output.WriteLine($"scale bench: {Environment.ProcessorCount} cores, {RuntimeInformation.FrameworkDescription}, {RuntimeInformation.OSDescription}, " +
            $"{(GCSettings.IsServerGC ? "server" : "workstation")} GC, {build} build");
        output.WriteLine($"  {s.Lifecycles:N0} export lifecycles of {s.Pages} page(s), DmaBufFlags.None, over {s.Domains} domain(s) " +
            $"(up to {s.PerDomain:N0} each; quota {s.Quotas.MaxBuffers:N0} buffers/domain, default {Actors.Supervision.DomainLifecycles.Quotas.Default.MaxBuffers}; " +
            $"{ScaleFrontends.Options(s).GrantTableEntries:N0} grant refs/domain), journal: {(s.Journal is null ? "none" : s.Journal.Contains('=') ? "PostgreSQL" : $"SQLite {s.Journal}")}");
        output.WriteLine();
        output.WriteLine("actors (BufferActors hosted with Akka.Hosting on the simulated gntdev):");
        var actors = await new ScaleActorPhase(s, output).RunAsync().ConfigureAwait(false);
        output.WriteLine();
        output.WriteLine("simulator alone (the same exports straight on the simulated gntdev):");
        var (simulator, simulatorAtBaseline) = ScaleSimulatorPhase.Run(s, output);

        output.WriteLine();
        output.WriteLine($"memory per live lifecycle (growth over the warmed-up host / {s.Lifecycles:N0}), bytes:");
        output.WriteLine($"  {"",-44} {"managed heap",13} {"GC committed",13} {"resident",10} {"resident anon",14}");
        void Row(string what, ProcessMemory m) =>
            output.WriteLine($"  {what,-44} {Per(m.ManagedHeap),13:N0} {Per(m.GcCommitted),13:N0} {Per(m.Resident),10:N0} {Per(m.ResidentAnonymous),14:N0}");
        double Per(long bytes) => (double)bytes / s.Lifecycles;
        Row("whole process: live export (actors + sim)", actors.Live);
        Row("whole process: + one pending WaitReleased", actors.WithWaiters);
        Row("simulator alone: live export", simulator);
        Row("actors' share: live export (whole - sim)", actors.Live.Since(simulator));
        Row("one pending WaitReleased (with - without)", actors.WithWaiters.Since(actors.Live));

        output.WriteLine();
        output.WriteLine($"release -> waiter notified, with {s.Lifecycles:N0} lifecycles live (each waiter pending before its release):");
        void Latency(string what, LatencySummary? summary) => output.WriteLine($"  {what + ":",-43} {summary}");
        Latency("one at a time, from ReleaseAsync issued", actors.Sequential);
        Latency("one at a time, from the device's release", actors.SequentialFromDevice);
        if (actors.Batched is not null)
        {
            Latency($"{s.Batch} at once, from ReleaseAsync issued", actors.Batched);
            Latency($"{s.Batch} at once, from the device's release", actors.BatchedFromDevice);
        }

        output.WriteLine();
        double whole = Per(Math.Max(actors.Live.ManagedHeap, actors.Live.Resident));
        if (report is not null)
        {
            report.Add("scale_sim_bytes_per_lifecycle", Per(Math.Max(simulator.ManagedHeap, simulator.Resident)), "B");
            report.Add("scale_bytes_per_lifecycle", whole, "B", "scale_sim_bytes_per_lifecycle");
            report.Add("bytes_per_lifecycle_waiting", Per(Math.Max(actors.WithWaiters.ManagedHeap, actors.WithWaiters.Resident)), "B", "scale_sim_bytes_per_lifecycle");
            void Percentiles(string name, LatencySummary? summary)
            {
                if (summary is not { } latency) return;
                report.Add(name + "_p50_us", latency.P50, "us");
                report.Add(name + "_p99_us", latency.P99, "us");
            }
            Percentiles("scale_release_to_waiter", actors.Sequential);
            Percentiles("scale_release_to_waiter_from_device", actors.SequentialFromDevice);
            Percentiles($"scale_release_to_waiter_batch{s.Batch}", actors.Batched);
            if (actors.Batched is { } burst) report.Add($"burst_{s.Batch}_p99_us", burst.P99, "us"); // the issue's name: burst_1000_p99_us by default
            report.Add("gc_pause_max_ms", actors.GcPauseMax.TotalMilliseconds, "ms");
        }
        output.WriteLine($"  target <= 4 KiB per live lifecycle, whole process (larger of heap and resident growth): " +
            $"{(whole <= BytesTarget ? "met" : "NOT met")} ({whole:N0} bytes)");
        output.WriteLine("  target p99 <= 1 ms release -> waiter (one at a time, from ReleaseAsync issued): " + (actors.Sequential is { P99: var p99 }
            ? $"{(p99 <= P99TargetMicros ? "met" : "NOT met")} ({p99:F0} us)"
            : "NOT met (no wait was answered Released)"));
        return actors.Passed && simulatorAtBaseline ? 0 : 1;
    }
}
