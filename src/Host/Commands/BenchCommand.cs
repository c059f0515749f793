using System.CommandLine;
using System.CommandLine.Parsing;
using System.Diagnostics;
using System.Runtime.InteropServices;
using Akka.Actor;
using Akka.Configuration;
using BufferActors.Actors;
using BufferActors.Actors.Api;
using BufferActors.Actors.Supervision;
using BufferActors.Native;
using BufferActors.Native.Simulation;

namespace BufferActors.Host.Commands;

/// <summary><c>bench</c>: measurements that belong in docs, never in timed unit tests.</summary>
internal static class BenchCommand
{
    public static Command Create()
    {
        var bench = new Command("bench", "Benchmarks; results go in docs/performance.md.");
        var domains = new Option<int>("--domains") { DefaultValueFactory = _ => 64, Description = "Frontend domains." };
        var buffers = new Option<int>("--buffers") { DefaultValueFactory = _ => 3, Description = "Exported buffers per domain." };
        var pages = new Option<int>("--pages") { DefaultValueFactory = _ => 8100, Description = "Pages per buffer (8100 = 4K framebuffer)." };
        var scale = new Command("sim-scale", "Simulator bookkeeping per page with every domain's buffers exported at once.");
        scale.Options.Add(domains);
        scale.Options.Add(buffers);
        scale.Options.Add(pages);
        scale.SetAction(r => SimulatorScale(r.GetValue(domains), r.GetValue(buffers), r.GetValue(pages), Console.Out));
        bench.Subcommands.Add(scale);
        bench.Subcommands.Add(CreateLifecycle());
        bench.Subcommands.Add(ScaleBenchCommand.Create());
        foreach (var command in JournalBenchCommand.Create()) bench.Subcommands.Add(command);
        return bench;
    }

    /// <summary>
    /// Exports domains × buffers × pages and reports the growth of the process's resident memory and
    /// of the managed heap per exported page. The guest pages are never touched, so they cost nothing:
    /// what grows is bookkeeping (grant entries, refs, frames, map state).
    /// </summary>
    internal static int SimulatorScale(int domains, int buffers, int pages, TextWriter output)
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
        var dispatcher = new Option<string>("--dispatcher") { DefaultValueFactory = _ => "both", Description = "Where the actors run: thread-pool (Akka's default), inline (BufferActorsOptions.InlineDispatch), or both, each against the same direct path." };
        dispatcher.AcceptOnlyFromAmong("both", "thread-pool", "inline");
        var command = new Command("lifecycle", "A full export lifecycle (export, attach, detach, release, wait) through the actors versus the same calls made directly on the simulator.");
        foreach (var option in new Option[] { iterations, warmup, concurrent, concurrentPages, rounds, pages, dispatcher }) command.Options.Add(option);
        command.SetAction(r => Lifecycle(new LifecycleBenchSettings(r.GetValue(iterations), r.GetValue(warmup), r.GetValue(pages)!,
            r.GetValue(concurrent), r.GetValue(concurrentPages), r.GetValue(rounds), r.GetValue(dispatcher) switch { "inline" => BenchDispatchers.Inline, "thread-pool" => BenchDispatchers.ThreadPool, _ => BenchDispatchers.Both }), Console.Out).GetAwaiter().GetResult());
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

    internal sealed record LifecycleBenchSettings(int Iterations, int Warmup, int[] Pages, int Concurrent, int ConcurrentPages, int Rounds, BenchDispatchers Dispatchers = BenchDispatchers.Both)
    {
        /// <summary>The warm-up goes on until no method has been JIT-compiled for this long (<see cref="JitQuietPeriod"/>; zero in smoke tests).</summary>
        public TimeSpan JitQuiet { get; init; } = JitQuietPeriod;
    }

    /// <summary>
    /// One export lifecycle — export, a display attaches and maps it, detaches, the backend releases it
    /// and waits for the release — made directly on the simulated gntdev, and through the actors with the
    /// same device-level calls for the display. The frontend grants every buffer once before the run and
    /// ends its grants after it, so both paths reuse the same refs. Sequential lifecycles are timed one by
    /// one in alternating blocks (direct, actors, actors, direct, ...), the sizes interleaved, so drift hits
    /// both paths and every size alike; then <see cref="LifecycleBenchSettings.Concurrent"/> lifecycles run at once through the actors
    /// versus one after another directly. Exit code 0 only when the ledger is back at its baseline.
    /// </summary>
    internal static async Task<int> Lifecycle(LifecycleBenchSettings s, TextWriter output)
    {
        if (s.Iterations < 1 || s.Warmup < 0 || s.Concurrent < 0 || s.ConcurrentPages < 1 || s.Rounds < 1)
        {
            output.WriteLine("bench lifecycle: --iterations, --concurrent-pages and --rounds must be at least 1; --warmup and --concurrent at least 0");
            return 2;
        }
        int perDomain = DomainLifecycles.Quotas.Default.MaxBuffers;
        int concurrentDomains = s.Concurrent <= 0 ? 0 : (s.Concurrent + perDomain - 1) / perDomain;
        int sizesPages = s.Pages.Sum();
        int concurrentPagesPerDomain = concurrentDomains == 0 ? 0 : (s.Concurrent + concurrentDomains - 1) / concurrentDomains * s.ConcurrentPages;
        int grantEntries = Math.Max(new SimulatorOptions().GrantTableEntries,
            Math.Max(sizesPages, concurrentPagesPerDomain) + 64); // + the 8 reserved refs and slack
        using var sim = new XenSimulator(new SimulatorOptions { GrantTableEntries = grantEntries });
        var baseline = sim.Ledger();
        var process = sim.StartProcess("bench-backend");
        var gntdev = sim.OpenGrantDevice(process);
        var display = sim.AddDevice("display");
        var grants = new List<(SimulatedDomain Domain, uint[] Refs)>();
        uint[] Share(SimulatedDomain domain, int count)
        {
            var refs = domain.GrantPages(DomainId.Dom0, domain.AllocatePages(count), count);
            grants.Add((domain, refs));
            return refs;
        }

        var frontend = sim.CreateDomain(1, sizesPages);
        var sized = s.Pages.Select(p => Share(frontend, p)).ToList();
        var concurrentBuffers = new List<(DomainId Domain, uint[] Refs)>();
        for (int d = 0; d < concurrentDomains; d++)
        {
            var domain = sim.CreateDomain((ushort)(2 + d), concurrentPagesPerDomain);
            for (int b = 0; b < concurrentPagesPerDomain / s.ConcurrentPages && concurrentBuffers.Count < s.Concurrent; b++)
                concurrentBuffers.Add((domain.Id, Share(domain, s.ConcurrentPages)));
        }

        // One actor system per dispatcher measured, each with its own manager on the same gntdev instance.
        var actorPaths = new List<ActorsUnderTest>();
        if (s.Dispatchers is BenchDispatchers.ThreadPool or BenchDispatchers.Both) actorPaths.Add(StartActors("thread-pool", inline: false));
        if (s.Dispatchers is BenchDispatchers.Inline or BenchDispatchers.Both) actorPaths.Add(StartActors("inline", inline: true));
        ActorsUnderTest StartActors(string name, bool inline)
        {
            var config = ConfigurationFactory.ParseString("akka.loglevel = WARNING\nakka.stdout-loglevel = WARNING");
            if (inline) config = BufferActors.Actors.Hosting.BufferActorsHostingExtensions.InlineDispatchConfig("buffers").WithFallback(config);
            var system = ActorSystem.Create($"bench-{name}", config);
            return new ActorsUnderTest(name, system, new BufferActorsClient(system.ActorOf(BufferManager.Props(new DeviceSession(gntdev)), "buffers")));
        }

        void Direct(DomainId domain, uint[] refs)
        {
            var export = gntdev.ExportDmaBuf(DmaBufFlags.None, domain, refs);
            var attachment = display.Attach(process, export.Fd);
            attachment.Map(DmaDirection.ToDevice);
            attachment.Detach();
            gntdev.CloseFd(export.Fd);
            if (gntdev.WaitReleased(export.Fd, 0) == WaitReleasedResult.TimedOut)
                throw new InvalidOperationException($"direct: fd {export.Fd} not released after close");
        }

        async Task Actors(BufferActorsClient client, DomainId domain, uint[] refs)
        {
            var export = await client.ExportAsync(domain, refs).ConfigureAwait(false);
            var attachment = display.Attach(process, export.Fd);
            attachment.Map(DmaDirection.ToDevice);
            await client.AttachAsync(export.Id, display.Name, DmaDirection.ToDevice).ConfigureAwait(false);
            attachment.Detach();
            await client.DetachAsync(export.Id, display.Name).ConfigureAwait(false);
            await client.ReleaseAsync(export.Id).ConfigureAwait(false);
            // Released, or NotFound once the lifecycle has already retired: both mean released.
            if (await client.WaitReleasedAsync(export.Id, TimeSpan.FromSeconds(10)).ConfigureAwait(false) == WaitReleasedResult.TimedOut)
                throw new InvalidOperationException($"actors: {export.Id} not released");
        }

        // Path 0 is direct; the others go through the actors on one dispatcher each.
        var names = new[] { "direct" }.Concat(actorPaths.Select(a => a.Name)).ToArray();
        Task Run(int path, DomainId domain, uint[] refs)
        {
            if (path > 0) return Actors(actorPaths[path - 1].Client, domain, refs);
            Direct(domain, refs);
            return Task.CompletedTask;
        }

        output.WriteLine($"lifecycle bench: export -> attach+map(ToDevice) -> detach -> release -> wait, DmaBufFlags.None, {Environment.ProcessorCount} cores, " +
            $"{RuntimeInformation.FrameworkDescription}, {RuntimeInformation.OSDescription}");
        output.WriteLine($"  paths: direct on the simulated gntdev; actors on the {string.Join(" and on the ", actorPaths.Select(a => a.Name + " dispatcher"))}");
        output.WriteLine($"  sequential: {s.Iterations} timed lifecycles per path and size after at least {s.Warmup} warm-up rounds; blocks of {BlockSize}, " +
            "the paths' order rotated every block, sizes interleaved");
        // Warm-up and measurement both cycle through the sizes, so JIT tiering, thread-pool growth and
        // GC tuning early in the run do not land on whichever size happens to be measured first.
        var warmClock = Stopwatch.StartNew();
        long jitted = System.Runtime.JitInfo.GetCompiledMethodCount();
        var jitQuietSince = TimeSpan.Zero;
        int warmRounds = 0;
        for (; warmRounds < s.Warmup || warmClock.Elapsed - jitQuietSince < s.JitQuiet && warmClock.Elapsed < MaxWarmup; warmRounds++)
        {
            foreach (var refs in sized)
                for (int path = 0; path < names.Length; path++)
                    await Run(path, frontend.Id, refs).ConfigureAwait(false);
            long now = System.Runtime.JitInfo.GetCompiledMethodCount();
            if (now != jitted) (jitted, jitQuietSince) = (now, warmClock.Elapsed);
        }
        output.WriteLine($"  warm-up: {warmRounds} rounds in {warmClock.Elapsed.TotalSeconds:F1} s, until no method had been JIT-compiled for {s.JitQuiet.TotalSeconds:F0} s" +
            (warmClock.Elapsed >= MaxWarmup ? $" (NOT reached: stopped at {MaxWarmup.TotalSeconds:F0} s)" : ""));
        output.WriteLine();

        // Per size and path: latencies, and the process CPU time and bytes allocated in the path's blocks
        // (CPU time is hardly moved by other jobs on the machine, unlike wall time).
        var times = s.Pages.Select(_ => names.Select(_ => new List<double>(s.Iterations)).ToArray()).ToArray();
        var cpu = s.Pages.Select(_ => new TimeSpan[names.Length]).ToArray();
        var bytes = s.Pages.Select(_ => new long[names.Length]).ToArray();
        var me = Process.GetCurrentProcess();
        for (int done = 0, round = 0; done < s.Iterations; round++)
        {
            int n = Math.Min(BlockSize, s.Iterations - done);
            for (int i = 0; i < s.Pages.Length; i++)
            {
                var refs = sized[i];
                for (int slot = 0; slot < names.Length; slot++)
                {
                    int path = (round + i + slot) % names.Length; // every path takes every position in turn
                    me.Refresh();
                    var cpu0 = me.TotalProcessorTime;
                    long bytes0 = GC.GetTotalAllocatedBytes(precise: false);
                    for (int k = 0; k < n; k++)
                    {
                        long t0 = Stopwatch.GetTimestamp();
                        await Run(path, frontend.Id, refs).ConfigureAwait(false);
                        times[i][path].Add(Stopwatch.GetElapsedTime(t0).TotalMicroseconds);
                    }
                    me.Refresh();
                    cpu[i][path] += me.TotalProcessorTime - cpu0;
                    bytes[i][path] += GC.GetTotalAllocatedBytes(precise: false) - bytes0;
                }
            }
            done += n;
        }
        // The floor of any actor path: one Ask to an actor that only answers, timed the same way.
        var echo = actorPaths[0].System.ActorOf(Akka.Actor.Props.Create(() => new EchoActor()), "echo");
        var echoTimes = new List<double>(s.Iterations);
        for (int k = 0; k < s.Warmup + s.Iterations; k++)
        {
            long t0 = Stopwatch.GetTimestamp();
            await echo.Ask<object>(k, TimeSpan.FromSeconds(10)).ConfigureAwait(false);
            if (k >= s.Warmup) echoTimes.Add(Stopwatch.GetElapsedTime(t0).TotalMicroseconds);
        }
        var roundTrip = LatencySummary.Of(echoTimes);

        output.WriteLine($"  {"pages",6} {"path",-12} {"mean us",9} {"p50 us",9} {"p99 us",9}   {"/direct mean",12} {"p50",6} {"p99",6}   {"CPU us",7} {"ratio",6}   {"bytes",8}");
        var ratios = new Dictionary<(int Pages, string Path), double>();
        for (int i = 0; i < s.Pages.Length; i++)
        {
            var d = LatencySummary.Of(times[i][0]);
            double dc = cpu[i][0].TotalMicroseconds / times[i][0].Count;
            output.WriteLine($"  {s.Pages[i],6} {names[0],-12} {d.Mean,9:F1} {d.P50,9:F1} {d.P99,9:F1}   {"",12} {"",6} {"",6}   {dc,7:F1} {"",6}   {bytes[i][0] / times[i][0].Count,8:N0}");
            for (int path = 1; path < names.Length; path++)
            {
                var a = LatencySummary.Of(times[i][path]);
                double ac = cpu[i][path].TotalMicroseconds / times[i][path].Count;
                ratios[(s.Pages[i], names[path])] = a.Mean / d.Mean;
                output.WriteLine($"  {s.Pages[i],6} {names[path],-12} {a.Mean,9:F1} {a.P50,9:F1} {a.P99,9:F1}   {a.Mean / d.Mean,12:F2} {a.P50 / d.P50,6:F2} {a.P99 / d.P99,6:F2}   " +
                    $"{ac,7:F1} {ac / dc,6:F2}   {bytes[i][path] / times[i][path].Count,8:N0}");
            }
        }
        output.WriteLine($"  (bytes: allocated per lifecycle)");

        if (concurrentBuffers.Count > 0)
        {
            output.WriteLine();
            output.WriteLine($"  concurrent: {concurrentBuffers.Count} lifecycles of {s.ConcurrentPages} pages over {concurrentDomains} domains " +
                $"(default quota {perDomain} buffers/domain); actors all in flight (Task.WhenAll), direct one after another; " +
                $"1 warm-up + {s.Rounds} timed rounds, the paths' order rotated every round");
            var roundTimes = names.Select(_ => new List<double>()).ToArray();
            for (int round = 0; round <= s.Rounds; round++)
                for (int slot = 0; slot < names.Length; slot++)
                {
                    int path = (round + slot) % names.Length;
                    long t0 = Stopwatch.GetTimestamp();
                    await Task.WhenAll(concurrentBuffers.Select(b => Run(path, b.Domain, b.Refs))).ConfigureAwait(false);
                    if (round > 0) roundTimes[path].Add(Stopwatch.GetElapsedTime(t0).TotalSeconds);
                }
            output.WriteLine($"  {"path",-12} {"lifecycles/s",13} {"round ms (min..max)",22} {"/direct",8}");
            double directRate = concurrentBuffers.Count * roundTimes[0].Count / roundTimes[0].Sum();
            for (int path = 0; path < names.Length; path++)
            {
                double rate = concurrentBuffers.Count * roundTimes[path].Count / roundTimes[path].Sum();
                output.WriteLine($"  {names[path],-12} {rate,13:N0} {$"{roundTimes[path].Min() * 1e3:F1}..{roundTimes[path].Max() * 1e3:F1}",22} {(path == 0 ? "" : $"{rate / directRate:F2}"),8}");
            }
        }

        // Every lifecycle has finished: no live actor, then the systems go, then the frontend ends its grants.
        var problems = new List<string>();
        foreach (var actors in actorPaths)
        {
            int live = await LedgerCheck.WaitUntilNoneLive(actors.Client, TimeSpan.FromSeconds(10)).ConfigureAwait(false);
            await actors.System.Terminate().ConfigureAwait(false);
            if (live > 0) problems.Add($"{actors.Name}: {live} lifecycle(s) still live");
        }
        foreach (var (domain, refs) in grants)
            foreach (var r in refs)
                if (!domain.EndAccess(r)) problems.Add($"{domain.Id} ref {r} still mapped");
        gntdev.Dispose();
        output.WriteLine();
        if (!LedgerCheck.Report(sim, baseline, problems, output)) return 1;
        int hd = Array.IndexOf(s.Pages, 2025);
        if (hd >= 0)
        {
            foreach (var actors in actorPaths)
            {
                double ratio = ratios[(2025, actors.Name)];
                output.WriteLine($"  target actor/direct <= 1.10 at 1080p (2025 pages), {actors.Name} dispatcher: {(ratio <= 1.10 ? "met" : "NOT met")} ({ratio:F2})");
            }
            double budget = LatencySummary.Of(times[hd][0]).Mean * 0.10;
            // The API's lifecycle is five request/reply steps (export, attach, detach, release, wait): even actors that
            // did nothing but answer would cost five round trips.
            output.WriteLine($"  the target leaves {budget:F1} us per lifecycle for the actor path; one Ask round trip to an echo actor ({actorPaths[0].Name}): " +
                $"mean {roundTrip.Mean:F1} us, p50 {roundTrip.P50:F1} us; the lifecycle's 5 request/reply steps alone take >= {5 * roundTrip.P50:F1} us " +
                $"({(5 * roundTrip.P50 <= budget ? "within" : "over")} the budget)");
        }
        return 0;
    }

    private sealed record ActorsUnderTest(string Name, ActorSystem System, BufferActorsClient Client);

    /// <summary>Which dispatchers <c>bench lifecycle</c> runs the actors on.</summary>
    internal enum BenchDispatchers
    {
        /// <summary>Both, each against the same direct path.</summary>
        Both,
        /// <summary>Akka's default dispatcher (the thread pool).</summary>
        ThreadPool,
        /// <summary><see cref="BufferActors.Actors.Dispatch.InlineDispatcher"/>.</summary>
        Inline,
    }

    private const int BlockSize = 25;

    /// <summary>
    /// Tiered compilation keeps recompiling the actor path's many methods (Akka's included) for tens of
    /// thousands of lifecycles — instrumented tier first, then optimized — and until it is done a lifecycle
    /// costs several times more; the direct path's few methods are done almost at once. So the warm-up runs
    /// until no method has been compiled for this long, and every path is measured at steady state.
    /// </summary>
    private static readonly TimeSpan JitQuietPeriod = TimeSpan.FromSeconds(2);

    private static readonly TimeSpan MaxWarmup = TimeSpan.FromSeconds(120);
}
