using System.CommandLine;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Runtime.InteropServices;
using Akka.Hosting;
using BufferActors.Actors.Api;
using BufferActors.Actors.Diagnostics;
using BufferActors.Actors.Hosting;
using BufferActors.Actors.Lifecycles;
using BufferActors.Actors.Persistence;
using BufferActors.Actors.Supervision;
using BufferActors.Native;
using BufferActors.Native.Simulation;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace BufferActors.Benchmarks;

/// <summary>What <c>bench journaled-lifecycle</c> runs; see <see cref="JournaledLifecycleBench"/>.</summary>
internal sealed record JournaledLifecycleSettings(int[] Concurrency, int Pages, int Rounds, string? Journal, JournalDurability Durability = JournalDurability.Process);

/// <summary>
/// <c>bench journaled-lifecycle</c>: the full export lifecycle (export, a display attaches and maps, detaches, the backend
/// releases and waits) through two hosts made with <c>AddBufferActors</c> on one simulator, one journaling to SQLite
/// (or the <c>--journal</c> given, e.g. PostgreSQL) and one without a journal, at 1, 64 and 1,000 lifecycles at once.
/// Each round runs that many lifecycles at once on one host, then on the other, the order alternating; throughput is
/// lifecycles per second over the timed rounds, and each lifecycle's release → waiter time (from the release request to
/// the wait's answer) is kept. Exit 0 only when both hosts end with nothing live and the ledger at its baseline.
/// </summary>
internal sealed class JournaledLifecycleBench
{
    private readonly JournaledLifecycleSettings _s;
    private readonly TextWriter _output;
    private readonly BenchReport _report;

    private JournaledLifecycleBench(JournaledLifecycleSettings s, TextWriter output, BenchReport report) => (_s, _output, _report) = (s, output, report);

    /// <summary>Runs the bench: 0 when both hosts end with nothing live and the ledger at baseline, 1 when not, 2 for bad settings.</summary>
    public static Task<int> RunAsync(JournaledLifecycleSettings s, TextWriter output, BenchReport report) => new JournaledLifecycleBench(s, output, report).Run();

    public static Command Create()
    {
        var concurrency = new Option<int[]>("--concurrency")
        {
            DefaultValueFactory = _ => [1, 64, 1000],
            Description = "Lifecycles at once, comma-separated.",
            CustomParser = r => [.. r.Tokens.SelectMany(t => t.Value.Split(',', StringSplitOptions.RemoveEmptyEntries)).Select(int.Parse)],
        };
        var pages = new Option<int>("--pages") { DefaultValueFactory = _ => 16, Description = "Pages per buffer." };
        var rounds = new Option<int>("--rounds") { DefaultValueFactory = _ => 20, Description = "Timed rounds per concurrency and host (after one warm-up round each)." };
        var durability = new Option<string>("--durability") { DefaultValueFactory = _ => "process", Description = "A SQLite journal's durability: process (the default) or power." };
        durability.AcceptOnlyFromAmong("process", "power");
        var journal = new Option<string?>("--journal") { Description = "The journal: a connection string (PostgreSQL, e.g. 'Host=localhost;Username=...') or a new SQLite file; a SQLite file in a scratch folder when absent." };
        var command = new Command("journaled-lifecycle", "The export lifecycle on a journaled host versus an unjournaled one, 1 / 64 / 1,000 at once: throughput and release -> waiter latency.")
        {
            concurrency, pages, rounds, journal, durability,
        };
        command.SetAction(r => BenchReport.Run(r, (output, report) =>
            RunAsync(new JournaledLifecycleSettings(r.GetValue(concurrency)!, r.GetValue(pages), r.GetValue(rounds), r.GetValue(journal),
                r.GetValue(durability) == "power" ? JournalDurability.Power : JournalDurability.Process), output, report)));
        return command;
    }

    /// <summary>One host: its client, the backend process the display attaches in, and what it measured.</summary>
    private sealed class Side(string name, IHost host)
    {
        public string Name { get; } = name;
        public IHost Running { get; } = host;
        public BufferActorsClient Client { get; } = host.Services.GetRequiredService<BufferActorsClient>();
        public SimulatedProcess Backend { get; } = ((SimulatedGrantDevice)host.Services.GetRequiredService<IGrantDevice>()).Process;
        public List<double> RoundSeconds { get; } = [];
        public List<double> ReleaseMicros { get; } = [];
    }

    private async Task<int> Run()
    {
        if (_s.Concurrency.Length == 0 || _s.Concurrency.Any(c => c < 1) || _s.Pages < 1 || _s.Rounds < 1)
        {
            _output.WriteLine("bench journaled-lifecycle: --concurrency, --pages and --rounds must be at least 1");
            return 2;
        }
        string scratch = Directory.CreateTempSubdirectory("ba-bench-journaled-").FullName;
        var storage = _s.Journal is { } given ? JournalStorage.Parse(given) : new JournalStorage.Sqlite(Path.Combine(scratch, "journal.db"));
        if (storage is JournalStorage.Sqlite sqlite) storage = sqlite with { Durability = _s.Durability };
        int most = _s.Concurrency.Max();
        int perDomain = DomainLifecycles.Quotas.Default.MaxBuffers;
        int domains = (most + perDomain - 1) / perDomain;
        using var sim = new XenSimulator(new SimulatorOptions { GrantTableEntries = Math.Max(new SimulatorOptions().GrantTableEntries, perDomain * _s.Pages + 64) });
        var display = sim.AddDevice("display");
        var frontends = Enumerable.Range(1, domains).Select(d => sim.CreateDomain((ushort)d, perDomain * _s.Pages)).ToList();
        var baseline = sim.Ledger();
        var buffers = new List<(SimulatedDomain Domain, uint[] Refs)>();
        foreach (var domain in frontends)
            for (int b = 0; b < perDomain && buffers.Count < most; b++)
                buffers.Add((domain, domain.GrantPages(DomainId.Dom0, domain.AllocatePages(_s.Pages), _s.Pages)));
        var problems = new List<string>();
        _output.WriteLine($"journaled-lifecycle bench: export -> attach+map -> detach -> release -> wait, {_s.Pages} pages, {Environment.ProcessorCount} cores, " +
            $"{RuntimeInformation.FrameworkDescription}; journal {JournalBenchCommand.Describe(storage)} vs none; inline dispatcher; 1 warm-up + {_s.Rounds} timed rounds per concurrency and host, order alternating");
        try
        {
            var journaled = new Side("journaled", await StartHost(sim, storage).ConfigureAwait(false));
            var bare = new Side("unjournaled", await StartHost(sim, null).ConfigureAwait(false));
            // The journal's own account of its writes (the meter every host has): how long one takes, from the
            // journal actor's flush to its acknowledgement, and how many events it carries.
            var writes = new List<(double Seconds, long Events)>();
            var meter = journaled.Running.Services.GetRequiredService<BufferActorsMetrics>().Meter;
            using var listener = new MeterListener
            {
                InstrumentPublished = (i, l) => { if (ReferenceEquals(i.Meter, meter) && i.Name.StartsWith("bufferactors.journal.", StringComparison.Ordinal)) l.EnableMeasurementEvents(i); },
            };
            double lastWrite = 0;
            listener.SetMeasurementEventCallback<double>((i, v, _, _) => { if (i.Name == "bufferactors.journal.write.duration") lock (writes) lastWrite = v; });
            listener.SetMeasurementEventCallback<long>((i, v, _, _) => { if (i.Name == "bufferactors.journal.batch.size") lock (writes) writes.Add((lastWrite, v)); });
            listener.Start();
            var paths = new[] { journaled, bare };
            _output.WriteLine($"  {"at once",8} {"host",-12} {"lifecycles/s",13} {"ratio",6}   release -> waiter (us)");
            foreach (int c in _s.Concurrency)
            {
                foreach (var p in paths) Clear(p);
                lock (writes) writes.Clear();
                for (int round = 0; round <= _s.Rounds; round++)
                    for (int slot = 0; slot < 2; slot++)
                    {
                        var p = paths[(round + slot) % 2];
                        if (round == 1 && slot == 0) lock (writes) writes.Clear(); // the warm-up's writes do not count
                        var latencies = new double[c];
                        long t0 = Stopwatch.GetTimestamp();
                        await Task.WhenAll(buffers.Take(c).Select((b, i) => Lifecycle(p, display, b.Domain.Id, b.Refs, latencies, i))).ConfigureAwait(false);
                        if (round == 0) continue; // warm-up
                        p.RoundSeconds.Add(Stopwatch.GetElapsedTime(t0).TotalSeconds);
                        p.ReleaseMicros.AddRange(latencies);
                    }
                double Rate(Side p) => c * p.RoundSeconds.Count / p.RoundSeconds.Sum();
                foreach (var p in paths)
                    _output.WriteLine($"  {c,8} {p.Name,-12} {Rate(p),13:N0} {(p == journaled ? $"{Rate(journaled) / Rate(bare):F2}" : ""),6}   {LatencySummary.Of(p.ReleaseMicros)}");
                string unjournaledRate = $"unjournaled_lifecycles_per_s_{c}", unjournaledRelease = $"unjournaled_release_p99_us_{c}";
                _report.Add(unjournaledRate, Rate(bare), "lifecycles/s");
                _report.Add($"journaled_lifecycles_per_s_{c}", Rate(journaled), "lifecycles/s", unjournaledRate);
                _report.Add($"journaled_vs_unjournaled_{c}", Rate(journaled) / Rate(bare), "ratio", unjournaledRate);
                _report.Add(unjournaledRelease, LatencySummary.Of(bare.ReleaseMicros).P99, "us");
                var release = LatencySummary.Of(journaled.ReleaseMicros);
                _report.Add($"journaled_release_p50_us_{c}", release.P50, "us", unjournaledRelease);
                _report.Add($"journaled_release_p99_us_{c}", release.P99, "us", unjournaledRelease);
                lock (writes)
                {
                    if (writes.Count > 0)
                    {
                        var took = LatencySummary.Of([.. writes.Select(w => w.Seconds * 1e6)]);
                        double writeUs = took.P50, perWrite = writes.Average(w => (double)w.Events);
                        _output.WriteLine($"  {"",8} {"",-12} journal: {writes.Count:N0} writes, from flush to acknowledgement {took}, {perWrite:F1} events each");
                        _report.Add($"journal_write_us_{c}", writeUs, "us");
                        _report.Add($"journal_events_per_write_{c}", perWrite, "events");
                    }
                }
                // The issue's headline figure: the release → waiter p99 at 64 at once (journaled_vs_unjournaled_64 is above).
                if (c == 64) _report.Add("journaled_release_p99_us", release.P99, "us", unjournaledRelease);
            }
            foreach (var p in paths)
            {
                int live = await LedgerCheck.WaitUntilNoneLive(p.Client, TimeSpan.FromSeconds(10)).ConfigureAwait(false);
                if (live > 0) problems.Add($"{p.Name}: {live} lifecycle(s) still live");
                await p.Running.StopAsync().ConfigureAwait(false);
                p.Running.Dispose();
            }
        }
        finally
        {
            SqliteConnection.ClearAllPools();
            Directory.Delete(scratch, recursive: true);
        }
        foreach (var (domain, refs) in buffers)
            foreach (uint r in refs)
                if (!domain.EndAccess(r)) problems.Add($"{domain.Id} ref {r} still mapped");
        _output.WriteLine();
        return LedgerCheck.Report(sim, baseline, problems, _output) ? 0 : 1;
    }

    private static void Clear(Side p)
    {
        p.RoundSeconds.Clear();
        p.ReleaseMicros.Clear();
    }

    private static async Task<IHost> StartHost(XenSimulator sim, JournalStorage? journal)
    {
        var host = new HostBuilder()
            .ConfigureServices(services => services.AddBufferActors(
                new BufferActorsOptions { DeviceFactory = _ => sim.OpenGrantDevice(), Journal = journal },
                akka => akka.AddHocon("akka.loglevel = WARNING\nakka.stdout-loglevel = WARNING", HoconAddMode.Append),
                systemName: journal is null ? "unjournaled" : "journaled"))
            .Build();
        await host.StartAsync().ConfigureAwait(false);
        return host;
    }

    /// <summary>One lifecycle; its release → waiter time goes in <paramref name="latencies"/>[<paramref name="slot"/>].</summary>
    private static async Task Lifecycle(Side p, SimulatedDevice display, DomainId domain, uint[] refs, double[] latencies, int slot)
    {
        var client = p.Client;
        var export = await client.ExportAsync(domain, refs).ConfigureAwait(false);
        var attachment = display.Attach(p.Backend, export.Fd);
        attachment.Map(DmaDirection.ToDevice);
        await client.AttachAsync(export.Id, display.Name, DmaDirection.ToDevice).ConfigureAwait(false);
        attachment.Detach();
        await client.DetachAsync(export.Id, display.Name).ConfigureAwait(false);
        long t0 = Stopwatch.GetTimestamp();
        await client.ReleaseAsync(export.Id).ConfigureAwait(false);
        if (await client.WaitReleasedAsync(export.Id, TimeSpan.FromSeconds(30)).ConfigureAwait(false) == WaitReleasedResult.TimedOut)
            throw new InvalidOperationException($"{p.Name}: {export.Id} not released");
        latencies[slot] = Stopwatch.GetElapsedTime(t0).TotalMicroseconds;
    }
}
