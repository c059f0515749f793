using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Runtime.InteropServices;
using Akka.Actor;
using Akka.Configuration;
using BufferActors.Actors;
using BufferActors.Actors.Api;
using BufferActors.Actors.Diagnostics;
using BufferActors.Actors.Lifecycles;
using BufferActors.Actors.Supervision;
using BufferActors.Native;
using BufferActors.Native.Simulation;

namespace BufferActors.Benchmarks;

/// <summary>What <c>bench lifecycle</c> runs; see <see cref="LifecycleBench"/>.</summary>
internal sealed record LifecycleBenchSettings(int Iterations, int Warmup, int[] Pages, int Concurrent, int ConcurrentPages, int Rounds, BenchDispatchers Dispatchers = BenchDispatchers.Both)
{
    /// <summary>The warm-up goes on until no method has been JIT-compiled for this long (2 s; zero in smoke tests).</summary>
    public TimeSpan JitQuiet { get; init; } = TimeSpan.FromSeconds(2);
}

/// <summary>Which dispatchers <c>bench lifecycle</c> runs the actors on.</summary>
internal enum BenchDispatchers
{
    /// <summary>Both, each in its own phase against the direct path.</summary>
    Both,
    /// <summary>Akka's default dispatcher (the thread pool).</summary>
    ThreadPool,
    /// <summary><see cref="BufferActors.Actors.Dispatch.InlineDispatcher"/>.</summary>
    Inline,
}

/// <summary>
/// <c>bench lifecycle</c>: one export lifecycle — export, a display attaches and maps it, detaches, the
/// backend releases it and waits for the release — made directly on the simulated gntdev, and through the
/// actors with the same device-level calls for the display. The frontend grants every buffer once before
/// the run and ends its grants after it, so both paths reuse the same refs.
/// </summary>
/// <remarks>
/// One phase per dispatcher, each with an actor system of its own that exists only during its phase:
/// work a system leaves running after a lifecycle (the thread pool's wake-ups and stops) must not land on
/// another system's timings, which it did when both lived side by side (inline 1.17 beside the thread-pool
/// system, 1.07–1.10 alone, in the same hour). In a phase, sequential lifecycles are timed one by one in
/// blocks of <see cref="BlockSize"/>, direct and actors taking turns first, the sizes interleaved, so drift
/// hits both paths and every size alike; then <see cref="LifecycleBenchSettings.Concurrent"/> lifecycles run at
/// once through the actors versus one after another directly. Exit code 0 only when the ledger is back at
/// its baseline.
/// </remarks>
internal sealed class LifecycleBench
{
    private const int BlockSize = 25;
    private const int HdPages = 2025;
    private const double Target = 1.10;

    /// <summary>The warm-up gives up waiting for the JIT to go quiet after this long (and says so).</summary>
    private static readonly TimeSpan MaxWarmup = TimeSpan.FromSeconds(120);

    private readonly LifecycleBenchSettings _s;
    private readonly TextWriter _output;
    private readonly BenchReport _report;
    private readonly XenSimulator _sim;
    private readonly SimulatedProcess _process;
    private readonly SimulatedGrantDevice _gntdev;
    private readonly SimulatedDevice _display;
    private readonly SimulatedDomain _frontend;
    private readonly List<(SimulatedDomain Domain, uint[] Refs)> _grants = [];
    private readonly List<uint[]> _sized;
    private readonly List<(DomainId Domain, uint[] Refs)> _concurrent = [];
    private readonly int _concurrentDomains;
    private readonly Me _me = new();

    private LifecycleBench(LifecycleBenchSettings s, TextWriter output, BenchReport report)
    {
        _s = s;
        _output = output;
        _report = report;
        int perDomain = DomainLifecycles.Quotas.Default.MaxBuffers;
        _concurrentDomains = s.Concurrent <= 0 ? 0 : (s.Concurrent + perDomain - 1) / perDomain;
        int sizesPages = s.Pages.Sum();
        int concurrentPagesPerDomain = _concurrentDomains == 0 ? 0 : (s.Concurrent + _concurrentDomains - 1) / _concurrentDomains * s.ConcurrentPages;
        int grantEntries = Math.Max(new SimulatorOptions().GrantTableEntries,
            Math.Max(sizesPages, concurrentPagesPerDomain) + 64); // + the 8 reserved refs and slack
        _sim = new XenSimulator(new SimulatorOptions { GrantTableEntries = grantEntries });
        Baseline = _sim.Ledger();
        _process = _sim.StartProcess("bench-backend");
        _gntdev = _sim.OpenGrantDevice(_process);
        _display = _sim.AddDevice("display");
        _frontend = _sim.CreateDomain(1, sizesPages);
        _sized = s.Pages.Select(p => Share(_frontend, p)).ToList();
        for (int d = 0; d < _concurrentDomains; d++)
        {
            var domain = _sim.CreateDomain((ushort)(2 + d), concurrentPagesPerDomain);
            for (int b = 0; b < concurrentPagesPerDomain / s.ConcurrentPages && _concurrent.Count < s.Concurrent; b++)
                _concurrent.Add((domain.Id, Share(domain, s.ConcurrentPages)));
        }
    }

    private SimulatorLedger Baseline { get; }

    /// <summary>Runs the bench; 0 when the ledger ends at its baseline, 1 when not, 2 for bad settings.</summary>
    public static async Task<int> Run(LifecycleBenchSettings s, TextWriter output, BenchReport report)
    {
        if (s.Iterations < 1 || s.Warmup < 0 || s.Concurrent < 0 || s.ConcurrentPages < 1 || s.Rounds < 1)
        {
            output.WriteLine("bench lifecycle: --iterations, --concurrent-pages and --rounds must be at least 1; --warmup and --concurrent at least 0");
            return 2;
        }
        var bench = new LifecycleBench(s, output, report);
        try
        {
            return await bench.RunPhases().ConfigureAwait(false);
        }
        finally
        {
            bench._sim.Dispose();
        }
    }

    private uint[] Share(SimulatedDomain domain, int count)
    {
        var refs = domain.GrantPages(DomainId.Dom0, domain.AllocatePages(count), count);
        _grants.Add((domain, refs));
        return refs;
    }

    private async Task<int> RunPhases()
    {
        var dispatchers = _s.Dispatchers switch
        {
            BenchDispatchers.ThreadPool => new[] { "thread-pool" },
            BenchDispatchers.Inline => ["inline"],
            _ => ["thread-pool", "inline"],
        };
        _output.WriteLine($"lifecycle bench: export -> attach+map(ToDevice) -> detach -> release -> wait, DmaBufFlags.None, {Environment.ProcessorCount} cores, " +
            $"{RuntimeInformation.FrameworkDescription}, {RuntimeInformation.OSDescription}");
        _output.WriteLine($"  paths: direct on the simulated gntdev; actors on the {string.Join(" and on the ", dispatchers.Select(d => d + " dispatcher"))}, " +
            "one phase each with its own actor system, against the direct path");
        _output.WriteLine($"  sequential: {_s.Iterations} timed lifecycles per path and size after at least {_s.Warmup} warm-up rounds; blocks of {BlockSize}, " +
            "the paths' order rotated every block, sizes interleaved (bytes: allocated per lifecycle)");
        if (_concurrent.Count > 0)
            _output.WriteLine($"  concurrent: {_concurrent.Count} lifecycles of {_s.ConcurrentPages} pages over {_concurrentDomains} domains " +
                $"(default quota {DomainLifecycles.Quotas.Default.MaxBuffers} buffers/domain); actors all in flight (Task.WhenAll), direct one after another; " +
                $"1 warm-up + {_s.Rounds} timed rounds, the paths' order rotated every round");

        var problems = new List<string>();
        var hd = new List<(string Dispatcher, double ActorsMean, double DirectMean)>();
        foreach (var dispatcher in dispatchers)
        {
            _output.WriteLine();
            var (system, client, bare, listener) = StartActors(dispatcher);
            if (await Sequential(dispatcher, client).ConfigureAwait(false) is { } means) hd.Add((dispatcher, means.Actors, means.Direct));
            await MetricsCost(dispatcher, client, bare).ConfigureAwait(false);
            if (_concurrent.Count > 0) await Concurrent(dispatcher, client).ConfigureAwait(false);
            // Every lifecycle has finished: no live actor, then the system goes.
            int live = await LedgerCheck.WaitUntilNoneLive(client, TimeSpan.FromSeconds(10)).ConfigureAwait(false);
            live += await LedgerCheck.WaitUntilNoneLive(bare, TimeSpan.FromSeconds(10)).ConfigureAwait(false);
            await system.Terminate().ConfigureAwait(false);
            listener.Dispose();
            if (live > 0) problems.Add($"{dispatcher}: {live} lifecycle(s) still live");
        }

        foreach (var (domain, refs) in _grants)
            foreach (var r in refs)
                if (!domain.EndAccess(r)) problems.Add($"{domain.Id} ref {r} still mapped");
        _gntdev.Dispose();
        _output.WriteLine();
        if (!LedgerCheck.Report(_sim, Baseline, problems, _output)) return 1;
        foreach (var (dispatcher, actors, direct) in hd)
        {
            double ratio = actors / direct;
            _output.WriteLine($"  target actor/direct <= {Target:F2} at 1080p ({HdPages} pages), {dispatcher} dispatcher: {(ratio <= Target ? "met" : "NOT met")} ({ratio:F2}): " +
                $"the actors add {actors - direct:F1} us to a lifecycle, the target allows {direct * (Target - 1):F1} us");
        }
        return 0;
    }

    /// <summary>
    /// The phase's actor system with two managers: the measured one, with its metrics (<see cref="BufferActorsMetrics"/>)
    /// listened to as an exporter would, and a second one without metrics, for their cost.
    /// </summary>
    private (ActorSystem System, BufferActorsClient Client, BufferActorsClient Bare, IDisposable Listener) StartActors(string dispatcher)
    {
        var config = ConfigurationFactory.ParseString("akka.loglevel = WARNING\nakka.stdout-loglevel = WARNING");
        if (dispatcher == "inline")
        {
            config = BufferActors.Actors.Hosting.BufferActorsHostingExtensions.InlineDispatchConfig("buffers")
                .WithFallback(BufferActors.Actors.Hosting.BufferActorsHostingExtensions.InlineDispatchConfig("bare")).WithFallback(config);
        }
        var system = ActorSystem.Create($"bench-{dispatcher}", config);
        var metrics = new BufferActorsMetrics();
        var listener = new MeterListener
        {
            InstrumentPublished = (instrument, l) => { if (ReferenceEquals(instrument.Meter, metrics.Meter)) l.EnableMeasurementEvents(instrument); },
        };
        listener.SetMeasurementEventCallback<double>((_, value, _, _) => Volatile.Write(ref _lastMeasured, value));
        listener.SetMeasurementEventCallback<long>((_, value, _, _) => Volatile.Write(ref _lastMeasured, value));
        listener.Start();
        var metered = LifecycleServices.Unjournaled(new DeviceSession(_gntdev)) with { Metrics = metrics };
        var bare = LifecycleServices.Unjournaled(new DeviceSession(_gntdev)) with { Metrics = BufferActorsMetrics.Disabled };
        return (system,
            new BufferActorsClient(system, system.ActorOf(BufferManager.Props(metered), "buffers")),
            new BufferActorsClient(system, system.ActorOf(BufferManager.Props(bare), "bare")),
            new Disposables(listener, metrics));
    }

    private double _lastMeasured; // where the listener puts what it is told, as an exporter aggregates it

    private sealed class Disposables(params IDisposable[] all) : IDisposable
    {
        public void Dispose()
        {
            foreach (var d in all) d.Dispose();
        }
    }

    /// <summary>
    /// The cost of metrics: 1080p lifecycles on the manager with metrics (listened to) against the same on the manager
    /// without, in blocks whose order alternates, after a warm-up of both.
    /// </summary>
    private async Task MetricsCost(string dispatcher, BufferActorsClient metered, BufferActorsClient bare)
    {
        var refs = _sized[Array.IndexOf(_s.Pages, _s.Pages.Contains(HdPages) ? HdPages : _s.Pages[0])];
        var clients = new[] { bare, metered };
        for (int i = 0; i < Math.Max(_s.Warmup, 100); i++)
            foreach (var c in clients)
                await Actors(c, _frontend.Id, refs).ConfigureAwait(false);
        var micros = new[] { new List<double>(), new List<double>() };
        for (int done = 0, round = 0; done < _s.Iterations; round++, done += BlockSize)
            for (int slot = 0; slot < 2; slot++)
            {
                int path = (round + slot) % 2;
                for (int k = 0; k < BlockSize; k++)
                {
                    long t0 = Stopwatch.GetTimestamp();
                    await Actors(clients[path], _frontend.Id, refs).ConfigureAwait(false);
                    micros[path].Add(Stopwatch.GetElapsedTime(t0).TotalMicroseconds);
                }
            }
        var (without, with) = (LatencySummary.Of(micros[0]), LatencySummary.Of(micros[1]));
        string size = BenchReport.SizeName(refs.Length), on = BenchReport.DispatcherName(dispatcher);
        _output.WriteLine($"  metrics, {refs.Length} pages: with {with.Mean:F1} us, without {without.Mean:F1} us, ratio {with.Mean / without.Mean:F3} (target <= 1.02)");
        _report.Add($"lifecycle_no_metrics_us_{size}_{on}", without.Mean, "us");
        _report.Add($"metrics_cost_{size}_{on}", with.Mean / without.Mean, "ratio", $"lifecycle_no_metrics_us_{size}_{on}");
    }

    private void Direct(DomainId domain, uint[] refs)
    {
        var export = _gntdev.ExportDmaBuf(DmaBufFlags.None, domain, refs);
        var attachment = _display.Attach(_process, export.Fd);
        attachment.Map(DmaDirection.ToDevice);
        attachment.Detach();
        _gntdev.CloseFd(export.Fd);
        if (_gntdev.WaitReleased(export.Fd, 0) == WaitReleasedResult.TimedOut)
            throw new InvalidOperationException($"direct: fd {export.Fd} not released after close");
    }

    private async Task Actors(BufferActorsClient client, DomainId domain, uint[] refs)
    {
        var export = await client.ExportAsync(domain, refs).ConfigureAwait(false);
        var attachment = _display.Attach(_process, export.Fd);
        attachment.Map(DmaDirection.ToDevice);
        await client.AttachAsync(export.Id, _display.Name, DmaDirection.ToDevice).ConfigureAwait(false);
        attachment.Detach();
        await client.DetachAsync(export.Id, _display.Name).ConfigureAwait(false);
        await client.ReleaseAsync(export.Id).ConfigureAwait(false);
        // Released, or NotFound once the lifecycle has already finished: both mean released.
        if (await client.WaitReleasedAsync(export.Id, TimeSpan.FromSeconds(10)).ConfigureAwait(false) == WaitReleasedResult.TimedOut)
            throw new InvalidOperationException($"actors: {export.Id} not released");
    }

    /// <summary>Path 0 is direct, path 1 the actors.</summary>
    private Task Run(int path, BufferActorsClient client, DomainId domain, uint[] refs)
    {
        if (path == 1) return Actors(client, domain, refs);
        Direct(domain, refs);
        return Task.CompletedTask;
    }

    /// <summary>Times the sequential lifecycles of one phase; the 1080p means when 1080p was measured.</summary>
    private async Task<(double Actors, double Direct)?> Sequential(string dispatcher, BufferActorsClient client)
    {
        // Tiered compilation keeps recompiling the actor path's many methods (Akka's included) for tens of
        // thousands of lifecycles — instrumented tier first, then optimized — and until it is done a lifecycle
        // costs several times more; the direct path's few methods are done almost at once. So the warm-up runs
        // until no method has been compiled for JitQuiet, and every path is measured at steady state. Warm-up and
        // measurement both cycle through the sizes, so JIT tiering, thread-pool growth and GC tuning early in
        // the run do not land on whichever size happens to be measured first.
        var warmClock = Stopwatch.StartNew();
        long jitted = System.Runtime.JitInfo.GetCompiledMethodCount();
        var jitQuietSince = TimeSpan.Zero;
        int warmRounds = 0;
        for (; warmRounds < _s.Warmup || warmClock.Elapsed - jitQuietSince < _s.JitQuiet && warmClock.Elapsed < MaxWarmup; warmRounds++)
        {
            foreach (var refs in _sized)
                for (int path = 0; path < 2; path++)
                    await Run(path, client, _frontend.Id, refs).ConfigureAwait(false);
            long now = System.Runtime.JitInfo.GetCompiledMethodCount();
            if (now != jitted) (jitted, jitQuietSince) = (now, warmClock.Elapsed);
        }
        _output.WriteLine($"  {dispatcher} phase: warm-up {warmRounds} rounds in {warmClock.Elapsed.TotalSeconds:F1} s, until no method had been JIT-compiled for {_s.JitQuiet.TotalSeconds:F0} s" +
            (warmClock.Elapsed >= MaxWarmup ? $" (NOT reached: stopped at {MaxWarmup.TotalSeconds:F0} s)" : ""));

        // Per size and path: latencies, and the process CPU time and bytes allocated in the path's blocks
        // (CPU time is hardly moved by other jobs on the machine, unlike wall time).
        var samples = _s.Pages.Select(_ => new[] { new PathSamples(_s.Iterations), new PathSamples(_s.Iterations) }).ToArray();
        for (int done = 0, round = 0; done < _s.Iterations; round++)
        {
            int n = Math.Min(BlockSize, _s.Iterations - done);
            for (int i = 0; i < _s.Pages.Length; i++)
                for (int slot = 0; slot < 2; slot++)
                {
                    int path = (round + i + slot) % 2; // every path takes every position in turn
                    var block = _me.Start();
                    for (int k = 0; k < n; k++)
                    {
                        long t0 = Stopwatch.GetTimestamp();
                        await Run(path, client, _frontend.Id, _sized[i]).ConfigureAwait(false);
                        samples[i][path].Micros.Add(Stopwatch.GetElapsedTime(t0).TotalMicroseconds);
                    }
                    samples[i][path].Add(_me.Since(block));
                }
            done += n;
        }

        _output.WriteLine($"  {"pages",6} {"path",-12} {"mean us",9} {"p50 us",9} {"p99 us",9}   {"/direct mean",12} {"p50",6} {"p99",6}   {"CPU us",7} {"ratio",6}   {"bytes",8}");
        (double, double)? hd = null;
        for (int i = 0; i < _s.Pages.Length; i++)
        {
            var (direct, actors) = (samples[i][0], samples[i][1]);
            var (d, a) = (LatencySummary.Of(direct.Micros), LatencySummary.Of(actors.Micros));
            _output.WriteLine($"  {_s.Pages[i],6} {"direct",-12} {d.Mean,9:F1} {d.P50,9:F1} {d.P99,9:F1}   {"",12} {"",6} {"",6}   {direct.CpuMicros,7:F1} {"",6}   {direct.Bytes,8:N0}");
            _output.WriteLine($"  {_s.Pages[i],6} {dispatcher,-12} {a.Mean,9:F1} {a.P50,9:F1} {a.P99,9:F1}   {a.Mean / d.Mean,12:F2} {a.P50 / d.P50,6:F2} {a.P99 / d.P99,6:F2}   " +
                $"{actors.CpuMicros,7:F1} {actors.CpuMicros / direct.CpuMicros,6:F2}   {actors.Bytes,8:N0}");
            if (_s.Pages[i] == HdPages) hd = (a.Mean, d.Mean);
            string size = BenchReport.SizeName(_s.Pages[i]), on = BenchReport.DispatcherName(dispatcher);
            string directMean = $"lifecycle_direct_us_{size}_{on}", directBytes = $"lifecycle_direct_bytes_{size}_{on}";
            _report.Add(directMean, d.Mean, "us");
            _report.Add($"lifecycle_actors_us_{size}_{on}", a.Mean, "us", directMean);
            _report.Add($"ratio_{size}_{on}", a.Mean / d.Mean, "ratio", directMean);
            _report.Add($"ratio_p99_{size}_{on}", a.P99 / d.P99, "ratio", directMean);
            _report.Add(directBytes, direct.Bytes, "B");
            _report.Add($"lifecycle_actors_bytes_{size}_{on}", actors.Bytes, "B", directBytes);
        }
        return hd;
    }

    private async Task Concurrent(string dispatcher, BufferActorsClient client)
    {
        var roundTimes = new[] { new List<double>(), new List<double>() };
        for (int round = 0; round <= _s.Rounds; round++)
            for (int slot = 0; slot < 2; slot++)
            {
                int path = (round + slot) % 2;
                long t0 = Stopwatch.GetTimestamp();
                await Task.WhenAll(_concurrent.Select(b => Run(path, client, b.Domain, b.Refs))).ConfigureAwait(false);
                if (round > 0) roundTimes[path].Add(Stopwatch.GetElapsedTime(t0).TotalSeconds);
            }
        _output.WriteLine($"  {"concurrent",-19} {"lifecycles/s",13} {"round ms (min..max)",22} {"/direct",8}");
        double directRate = _concurrent.Count * roundTimes[0].Count / roundTimes[0].Sum();
        foreach (var (path, name) in new[] { (0, "direct"), (1, dispatcher) })
        {
            double rate = _concurrent.Count * roundTimes[path].Count / roundTimes[path].Sum();
            _output.WriteLine($"  {name,-19} {rate,13:N0} {$"{roundTimes[path].Min() * 1e3:F1}..{roundTimes[path].Max() * 1e3:F1}",22} {(path == 0 ? "" : $"{rate / directRate:F2}"),8}");
        }
        string on = BenchReport.DispatcherName(dispatcher), baseline = $"concurrent_direct_per_s_{on}";
        double actorsRate = _concurrent.Count * roundTimes[1].Count / roundTimes[1].Sum();
        _report.Add(baseline, directRate, "lifecycles/s");
        _report.Add($"concurrent_actors_per_s_{on}", actorsRate, "lifecycles/s", baseline);
        _report.Add($"concurrent_vs_direct_{on}", actorsRate / directRate, "ratio", baseline);
    }

    /// <summary>One path's timings in a phase, with the CPU time and bytes of its blocks.</summary>
    private sealed class PathSamples(int capacity)
    {
        private TimeSpan _cpu;
        private long _bytes;

        public List<double> Micros { get; } = new(capacity);

        public double CpuMicros => _cpu.TotalMicroseconds / Micros.Count;

        public long Bytes => _bytes / Micros.Count;

        public void Add((TimeSpan Cpu, long Bytes) block)
        {
            _cpu += block.Cpu;
            _bytes += block.Bytes;
        }
    }

    /// <summary>This process's CPU time and allocated bytes, read at the start and end of a block.</summary>
    private sealed class Me
    {
        private readonly Process _process = Process.GetCurrentProcess();

        public (TimeSpan Cpu, long Bytes) Start()
        {
            _process.Refresh();
            return (_process.TotalProcessorTime, GC.GetTotalAllocatedBytes(precise: false));
        }

        public (TimeSpan Cpu, long Bytes) Since((TimeSpan Cpu, long Bytes) start)
        {
            var now = Start();
            return (now.Cpu - start.Cpu, now.Bytes - start.Bytes);
        }
    }
}
