using System.CommandLine;
using System.CommandLine.Parsing;
using System.Diagnostics;
using BufferActors.Native;
using BufferActors.Native.Simulation;

namespace BufferActors.Benchmarks;

/// <summary>The benchmarks: measurements that belong in docs, never in timed unit tests.</summary>
internal static class BenchCommand
{
    /// <summary>The benchmarks, one command each.</summary>
    public static IEnumerable<Command> Create()
    {
        var domains = new Option<int>("--domains") { DefaultValueFactory = _ => 64, Description = "Frontend domains." };
        var buffers = new Option<int>("--buffers") { DefaultValueFactory = _ => 3, Description = "Exported buffers per domain." };
        var pages = new Option<int>("--pages") { DefaultValueFactory = _ => 8100, Description = "Pages per buffer (8100 = 4K framebuffer)." };
        var scale = new Command("sim-scale", "Simulator bookkeeping per page with every domain's buffers exported at once.");
        scale.Options.Add(domains);
        scale.Options.Add(buffers);
        scale.Options.Add(pages);
        scale.SetAction(r => BenchReport.Run(r, (output, report) => Task.FromResult(SimulatorScale(r.GetValue(domains), r.GetValue(buffers), r.GetValue(pages), output, report))));
        yield return scale;
        yield return CreateLifecycle();
        yield return ScaleBenchCommand.Create();
        foreach (var command in JournalBenchCommand.Create()) yield return command;
        yield return SocketBench.Create();
        yield return JournaledLifecycleBench.Create();
        yield return StartupBench.Create();
    }

    /// <summary>
    /// Exports domains × buffers × pages and reports the growth of the process's resident memory and
    /// of the managed heap per exported page. The guest pages are never touched, so they cost nothing:
    /// what grows is bookkeeping (grant entries, refs, frames, map state).
    /// </summary>
    internal static int SimulatorScale(int domains, int buffers, int pages, TextWriter output, BenchReport report)
    {
        long totalPages = (long)domains * buffers * pages;
        var sim = new XenSimulator(new SimulatorOptions { GrantTableEntries = Math.Max(64 * 512, buffers * pages + 64) });
        var process = sim.StartProcess("bench");
        var gntdev = sim.OpenGrantDevice(process);
        var fronts = Enumerable.Range(1, domains).Select(d => sim.CreateDomain((ushort)d, buffers * pages)).ToList();

        long rssBefore = ProcessMemory.StatusBytes("VmRSS"), heapBefore = GC.GetTotalMemory(forceFullCollection: true);
        var clock = Stopwatch.StartNew();
        var exports = new List<ExportedDmaBuf>();
        foreach (var front in fronts)
            for (int b = 0; b < buffers; b++)
                exports.Add(gntdev.ExportDmaBuf(DmaBufFlags.None, front.Id, front.GrantPages(DomainId.Dom0, front.AllocatePages(pages), pages)));
        clock.Stop();
        long heapAfter = GC.GetTotalMemory(forceFullCollection: true), rssAfter = ProcessMemory.StatusBytes("VmRSS");

        var ledger = sim.Ledger();
        double rssPerPage = (rssAfter - rssBefore) / (double)totalPages;
        double heapPerPage = (heapAfter - heapBefore) / (double)totalPages;
        output.WriteLine($"simulator scale: {domains} domains x {buffers} buffers x {pages} pages = {totalPages:N0} pages ({totalPages * 4096.0 / (1 << 30):F1} GiB of guest memory)");
        output.WriteLine($"  live exports {ledger.Exports}, mapped grants {ledger.MappedGrants:N0}, granted refs {ledger.GrantedRefs:N0}");
        output.WriteLine($"  resident memory growth: {(rssAfter - rssBefore) / 1048576.0:F1} MiB = {rssPerPage:F1} bytes/page");
        output.WriteLine($"  managed heap growth:    {(heapAfter - heapBefore) / 1048576.0:F1} MiB = {heapPerPage:F1} bytes/page");
        output.WriteLine($"  export time: {clock.Elapsed.TotalMilliseconds:F0} ms ({totalPages / clock.Elapsed.TotalSeconds / 1e6:F2} M pages/s)");
        GC.KeepAlive(exports);
        sim.Dispose();
        report.Add("sim_resident_bytes_per_page", rssPerPage, "B");
        report.Add("sim_heap_bytes_per_page", heapPerPage, "B");
        report.Add("sim_export_pages_per_s", totalPages / clock.Elapsed.TotalSeconds, "pages/s");
        bool ok = rssPerPage <= 64;
        output.WriteLine(ok ? "  within the 64 bytes/page budget" : "  OVER the 64 bytes/page budget");
        return ok ? 0 : 1;
    }

    private static Command CreateLifecycle()
    {
        var iterations = new Option<int>("--iterations") { DefaultValueFactory = _ => 5000, Description = "Timed lifecycles per path and buffer size." };
        var warmup = new Option<int>("--warmup") { DefaultValueFactory = _ => 500, Description = "Untimed lifecycles per path and buffer size first." };
        var concurrent = new Option<int>("--concurrent") { DefaultValueFactory = _ => 1000, Description = "Lifecycles in flight at once through the actors (0 skips the phase)." };
        var concurrentPages = new Option<int>("--concurrent-pages") { DefaultValueFactory = _ => 16, Description = "Pages per buffer in the concurrent phase." };
        var rounds = new Option<int>("--rounds") { DefaultValueFactory = _ => 5, Description = "Timed rounds per path in the concurrent phase (after one warm-up round)." };
        var pages = new Option<int[]>("--pages")
        {
            DefaultValueFactory = _ => [2025, 8100],
            Description = "Buffer sizes in pages, comma-separated (2025 = 1080p, 8100 = 4K).",
            CustomParser = ParsePageList,
        };
        var dispatcher = new Option<string>("--dispatcher") { DefaultValueFactory = _ => "both", Description = "Where the actors run: thread-pool (Akka's default), inline (BufferActorsOptions.InlineDispatch), or both, each in its own phase against the direct path." };
        dispatcher.AcceptOnlyFromAmong("both", "thread-pool", "inline");
        var command = new Command("lifecycle", "A full export lifecycle (export, attach, detach, release, wait) through the actors versus the same calls made directly on the simulator.");
        foreach (var option in new Option[] { iterations, warmup, concurrent, concurrentPages, rounds, pages, dispatcher }) command.Options.Add(option);
        command.SetAction(r => BenchReport.Run(r, (output, report) => LifecycleBench.Run(new LifecycleBenchSettings(r.GetValue(iterations), r.GetValue(warmup), r.GetValue(pages)!,
            r.GetValue(concurrent), r.GetValue(concurrentPages), r.GetValue(rounds), r.GetValue(dispatcher) switch { "inline" => BenchDispatchers.Inline, "thread-pool" => BenchDispatchers.ThreadPool, _ => BenchDispatchers.Both }), output, report)));
        return command;
    }

    private static int[] ParsePageList(ArgumentResult result)
    {
        var sizes = new List<int>();
        foreach (var token in result.Tokens)
            foreach (var part in token.Value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                if (!int.TryParse(part, out int n) || n <= 0)
                {
                    result.AddError($"--pages: '{part}' is not a positive page count");
                    return [];
                }
                sizes.Add(n);
            }
        if (sizes.Count == 0) result.AddError("--pages needs at least one size");
        return [.. sizes];
    }
}
