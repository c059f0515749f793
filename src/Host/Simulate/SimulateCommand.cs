using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using BufferActors.Actors.Persistence;

namespace BufferActors.Host.Simulate;

/// <summary>
/// <c>simulate</c>: a seeded workload (display, camera or churn) on the in-process simulator through
/// the real actor system, with random faults at every simulator call site, seeded domain crashes and
/// actor exceptions, an invariant checker running throughout, and a ledger check at quiescence.
/// Exit code 0 only when there is no violation and the ledger is at baseline. <c>--campaign N</c>
/// runs seeds seed..seed+N-1 with the scenarios rotated.
/// </summary>
internal static class SimulateCommand
{
    public static Command Create()
    {
        var names = Enum.GetValues<SimulationScenario>().Select(s => s.Name()).ToArray();
        var scenario = new Option<string>("--scenario") { Description = string.Join(" | ", names) + ".", DefaultValueFactory = _ => "display" };
        scenario.AcceptOnlyFromAmong(names);
        var domains = new Option<int>("--domains") { Description = "Frontend domains alive at once.", DefaultValueFactory = _ => 2 };
        var buffers = new Option<int>("--buffers") { Description = "Buffers per frontend.", DefaultValueFactory = _ => 3 };
        var pages = new Option<int>("--pages") { Description = "Pages per buffer.", DefaultValueFactory = _ => 64 };
        var operations = new Option<int>("--operations") { Description = "Workload operations.", DefaultValueFactory = _ => 200 };
        var faultRate = new Option<double>("--fault-rate") { Description = "Probability of a fault at each simulator call site (also drives crashes and actor exceptions).", DefaultValueFactory = _ => 0.05 };
        var seed = new Option<int>("--seed") { Description = "Seed of the workload and the fault plan (first seed of a campaign).", DefaultValueFactory = _ => 1 };
        var journal = new Option<string>("--journal") { Description = "'none' (default) or a new SQLite file to journal the run to (with --campaign: a folder, one file per seed, kept for failing seeds).", DefaultValueFactory = _ => "none" };
        var json = new Option<bool>("--json") { Description = "Print one JSON object." };
        var campaign = new Option<int>("--campaign") { Description = "Run N seeds (seed..seed+N-1): each with --scenario if given, else scenarios rotated.", DefaultValueFactory = _ => 0 };
        var dispatcher = new Option<string>("--dispatcher") { Description = "Where the actors run: inline (the default: each step on the caller's thread) or thread-pool (Akka's default dispatcher).", DefaultValueFactory = _ => "inline" };
        dispatcher.AcceptOnlyFromAmong("inline", "thread-pool");
        var everyScenario = new Option<bool>("--every-scenario") { Description = "With --campaign: run every seed with every scenario instead of rotating them." };
        var command = new Command("simulate", "Seeded workload on the simulator through the actors, with faults and an invariant checker; exit 0 only if nothing broke and nothing leaked.");
        foreach (var o in new Option[] { scenario, domains, buffers, pages, operations, faultRate, seed, journal, json, campaign, everyScenario, dispatcher }) command.Options.Add(o);
        command.SetAction((r, _) =>
        {
            string location = r.GetValue(journal)!;
            var settings = new SimulationSettings
            {
                Scenario = SimulationScenarioNames.Parse(r.GetValue(scenario)!),
                Domains = r.GetValue(domains),
                Buffers = r.GetValue(buffers),
                Pages = r.GetValue(pages),
                Operations = r.GetValue(operations),
                FaultRate = r.GetValue(faultRate),
                Seed = r.GetValue(seed),
                JournalText = location,
                InlineDispatch = r.GetValue(dispatcher) == "inline",
                Journal = location is "none" or "" ? null : JournalStorage.Parse(location),
            };
            int n = r.GetValue(campaign);
            bool givenOnly = r.GetResult(scenario) is { Implicit: false };
            return n > 0 ? CampaignAsync(settings, n, r.GetValue(json), Console.Out, r.GetValue(everyScenario), givenOnly) : RunAsync(settings, r.GetValue(json), Console.Out);
        });
        return command;
    }

    internal static string? Invalid(SimulationSettings s) =>
        s.Domains < 1 || s.Domains > 1000 ? "--domains must be 1..1000"
        : s.Buffers < 1 ? "--buffers must be at least 1"
        : s.Pages < 1 || s.Pages > 65536 ? "--pages must be 1..65536"
        : s.Operations < 0 ? "--operations must be at least 0"
        : s.FaultRate is < 0 or > 1 ? "--fault-rate must be between 0 and 1"
        : null;

    /// <summary>One run: summary table or JSON; on a violation, the seed, the command line and the shortest failing prefix.</summary>
    internal static async Task<int> RunAsync(SimulationSettings s, bool json, TextWriter output)
    {
        if ((Invalid(s) ?? SimulationJournals.Problem(s)) is { } error) { output.WriteLine($"simulate: {error}"); return 2; }
        var result = await SimulationProgress.RunAsync(output, json, $"simulate {s.Scenario.Name()}, seed {s.Seed}", s.Operations,
            progress => new WorkloadDriver(s) { Progress = progress }.RunAsync()).ConfigureAwait(false);
        SimulationResult? shortest = null;
        if (!result.Passed) shortest = await ShrinkAsync(result).ConfigureAwait(false);
        if (json) output.WriteLine(ToJson(result, shortest));
        else PrintSummary(result, shortest, output);
        return result.Passed ? 0 : 1;
    }

    /// <summary>Re-runs the same seed with fewer operations (binary search over the prefix length) and keeps the shortest run that still fails.</summary>
    internal static async Task<SimulationResult> ShrinkAsync(SimulationResult failing)
    {
        var best = failing;
        int lo = 0, hi = failing.Operations; // a prefix of hi operations fails; look for a shorter one
        while (lo < hi)
        {
            int mid = (lo + hi) / 2;
            var probe = SimulationJournals.ForProbe(failing.Settings, mid);
            var r = await new WorkloadDriver(probe).RunAsync().ConfigureAwait(false);
            SimulationJournals.Delete(probe);
            if (!r.Passed) { best = r; hi = mid; }
            else lo = mid + 1;
        }
        return best;
    }

    /// <summary>Seeds run at once in a campaign.</summary>
    internal static int Parallelism { get; set; } = 1;

    /// <summary>
    /// <paramref name="seeds"/> seeds from <paramref name="s"/>'s: each with every scenario (<paramref name="everyScenario"/>),
    /// with <paramref name="s"/>'s scenario only (<paramref name="givenOnly"/>), or with the scenarios rotated from it.
    /// </summary>
    internal static async Task<int> CampaignAsync(SimulationSettings s, int seeds, bool json, TextWriter output, bool everyScenario = false, bool givenOnly = false)
    {
        string? journalProblem = s.Journal is null or JournalStorage.Sqlite ? null : "--journal: a campaign journals to SQLite files in a folder";
        if ((Invalid(s) ?? journalProblem) is { } error) { output.WriteLine($"simulate: {error}"); return 2; }
        var clock = Stopwatch.StartNew();
        var scenarios = givenOnly && !everyScenario ? [s.Scenario] : Enum.GetValues<SimulationScenario>();
        int start = Array.IndexOf(scenarios, s.Scenario);
        int perSeed = everyScenario ? scenarios.Length : 1;
        int runs = seeds * perSeed;
        var failures = new List<(SimulationResult Result, SimulationResult Shortest)>();
        int operations = 0, faults = 0, crashes = 0, actorFaults = 0;
        var outcomes = new SortedDictionary<string, int>(StringComparer.Ordinal);
        if (!json) output.WriteLine($"simulate campaign: {seeds} seeds from {s.Seed}, {(everyScenario ? "every scenario for each" : givenOnly ? $"each {s.Scenario.Name()}" : $"scenarios rotated from {s.Scenario.Name()}")}, " +
            $"{s.Domains} domains x {s.Buffers} buffers x {s.Pages} pages, {s.Operations} operations, fault rate {s.FaultRate.ToString(CultureInfo.InvariantCulture)}");
        if (!json) output.WriteLine($"  {s.FaultKnobs()}");
        // Seeds are independent (each has its own simulator and actor system) and mostly wait on messages: run a few at once.
        var results = new SimulationResult?[runs];
        int next = -1, finished = 0;
        async Task Worker(Action<int> progress)
        {
            int k;
            while ((k = Interlocked.Increment(ref next)) < runs)
            {
                var settings = everyScenario
                    ? s with { Seed = s.Seed + k / perSeed, Scenario = scenarios[k % perSeed] }
                    : s with { Seed = s.Seed + k, Scenario = scenarios[(start + k) % scenarios.Length] };
                if (s.Journal is JournalStorage.Sqlite folder) settings = SimulationJournals.ForSeed(settings, folder.Path, settings.Seed);
                try
                {
                    results[k] = await Task.Run(() => new WorkloadDriver(settings).RunAsync()).ConfigureAwait(false);
                }
                catch (Exception e)
                {
                    // The driver itself failed (not an invariant): name the run so that it can be run again alone.
                    Console.Error.WriteLine($"simulate: the run failed with {e.GetType().Name}: {e.Message}; again alone: {settings.CommandLine()}");
                    throw;
                }
                if (results[k]!.Passed) SimulationJournals.Delete(settings);
                progress(Interlocked.Increment(ref finished));
            }
        }
        await SimulationProgress.RunAsync(output, json, $"simulate campaign, {runs} runs", runs,
            async progress => { await Task.WhenAll(Enumerable.Range(0, Parallelism).Select(_ => Worker(progress))).ConfigureAwait(false); return 0; }).ConfigureAwait(false);
        foreach (var r in results.Select(x => x!))
        {
            var settings = r.Settings;
            operations += r.Operations;
            faults += r.FaultsInjected;
            crashes += r.DomainCrashes;
            actorFaults += r.ActorFaults;
            foreach (var (key, v) in r.LifecyclesByOutcome) outcomes[key] = outcomes.GetValueOrDefault(key) + v;
            if (r.Passed) continue;
            var shortest = await ShrinkAsync(r).ConfigureAwait(false);
            failures.Add((r, shortest));
            if (!json)
                output.WriteLine($"FAIL seed {settings.Seed} ({settings.Scenario.Name()}): {shortest.Violations.FirstOrDefault() ?? "ledger not at baseline"}; " +
                    $"reproduce: {settings.CommandLine(shortest.Operations)}");
        }
        double seconds = clock.Elapsed.TotalSeconds;
        if (json)
        {
            output.WriteLine(JsonSerializer.Serialize(new
            {
                seeds,
                firstSeed = s.Seed,
                runs,
                passed = runs - failures.Count,
                failed = failures.Select(f => new { seed = f.Result.Settings.Seed, scenario = f.Result.Settings.Scenario.Name(), violations = f.Shortest.Violations, reproduce = f.Result.Settings.CommandLine(f.Shortest.Operations) }),
                operations,
                faultsInjected = faults,
                domainCrashes = crashes,
                actorFaults,
                lifecycles = outcomes,
                elapsedMs = Math.Round(clock.Elapsed.TotalMilliseconds),
            }));
        }
        else
        {
            output.WriteLine($"{runs - failures.Count}/{runs} {(everyScenario ? "runs" : "seeds")} passed; {operations} operations, {faults} simulator faults, {actorFaults} actor exceptions, {crashes} domain crashes in {seconds:F1} s ({seconds * 1000 / Math.Max(1, runs):F0} ms/run)");
            output.WriteLine("  lifecycles: " + string.Join(", ", outcomes.Select(p => $"{p.Key}={p.Value}")));
        }
        return failures.Count == 0 ? 0 : 1;
    }

    internal static string ToJson(SimulationResult r, SimulationResult? shortest) => JsonSerializer.Serialize(new
    {
        seed = r.Settings.Seed,
        scenario = r.Settings.Scenario.Name(),
        options = new { domains = r.Settings.Domains, buffers = r.Settings.Buffers, pages = r.Settings.Pages, operations = r.Settings.Operations, faultRate = r.Settings.FaultRate, journal = r.Settings.JournalText },
        operations = r.Operations,
        operationsByKind = r.OperationsByKind,
        faultsInjected = r.FaultsInjected,
        faultsBySite = r.FaultsBySite,
        actorFaults = r.ActorFaults,
        domainCrashes = r.DomainCrashes,
        lifecycles = r.LifecyclesByOutcome,
        violations = r.Violations,
        ledger = new
        {
            maps = r.Ledger.Maps,
            grants = r.Ledger.Grants,
            mappedGrants = r.Ledger.MappedGrants,
            dmabufs = r.Ledger.DmaBufs,
            attachments = r.Ledger.Attachments,
            fds = r.Ledger.Fds,
            exports = r.Ledger.Exports,
            imports = r.Ledger.Imports,
            reservationPages = r.Ledger.ReservationPages,
            deferredRefs = r.Ledger.DeferredRefs,
        },
        passed = r.Passed,
        reproduce = r.Passed ? null : r.Settings.CommandLine((shortest ?? r).Operations),
        shortestTrace = r.Passed ? null : (shortest ?? r).Trace,
        trace = r.Trace,
        elapsedMs = Math.Round(r.ElapsedMs),
    });

    internal static void PrintSummary(SimulationResult r, SimulationResult? shortest, TextWriter o)
    {
        var s = r.Settings;
        o.WriteLine($"simulate {s.Scenario.Name()}: seed {s.Seed}, {s.Domains} domains x {s.Buffers} buffers x {s.Pages} pages, " +
            $"{s.Operations} operations, fault rate {s.FaultRate.ToString(CultureInfo.InvariantCulture)}, journal {s.JournalText}");
        o.WriteLine($"  {s.FaultKnobs()}");
        o.WriteLine($"  reproduce: {s.CommandLine()}");
        o.WriteLine();
        o.WriteLine($"  {"operations",-28} {r.Operations,6}   ({string.Join(", ", r.OperationsByKind.Select(p => $"{p.Key} {p.Value}"))})");
        o.WriteLine($"  {"faults injected",-28} {r.FaultsInjected,6}");
        foreach (var (site, n) in r.FaultsBySite) o.WriteLine($"    {site,-26} {n,6}");
        o.WriteLine($"  {"actor exceptions",-28} {r.ActorFaults,6}");
        o.WriteLine($"  {"domain crashes",-28} {r.DomainCrashes,6}");
        o.WriteLine("  lifecycles by outcome");
        foreach (var (outcome, n) in r.LifecyclesByOutcome) o.WriteLine($"    {outcome,-26} {n,6}");
        var l = r.Ledger;
        o.WriteLine($"  ledger vs baseline: maps={l.Maps} grants={l.Grants} mapped-grants={l.MappedGrants} dma-bufs={l.DmaBufs} attachments={l.Attachments} " +
            $"fds={l.Fds} exports={l.Exports} imports={l.Imports} reservation={l.ReservationPages} deferred={l.DeferredRefs}");
        o.WriteLine($"  elapsed {r.ElapsedMs:F0} ms");
        if (r.Passed)
        {
            o.WriteLine("PASS: no violation, ledger at baseline.");
            return;
        }
        var shortRun = shortest ?? r;
        o.WriteLine($"FAIL: seed {s.Seed}, {r.Violations.Count} violation(s):");
        foreach (var v in r.Violations.Take(20)) o.WriteLine($"  {v}");
        o.WriteLine($"Shortest failing prefix: {shortRun.Operations} operations; reproduce with:");
        o.WriteLine($"  {s.CommandLine(shortRun.Operations)}");
        o.WriteLine("Trace:");
        foreach (var line in shortRun.Trace) o.WriteLine($"  {line}");
    }
}
