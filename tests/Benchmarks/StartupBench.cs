using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using BufferActors.Actors.Api;
using BufferActors.Actors.Hosting;
using BufferActors.Actors.Persistence;
using BufferActors.Native;
using BufferActors.Native.Simulation;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace BufferActors.Benchmarks;

/// <summary>
/// <c>bench startup</c>: how soon a fresh process serves its first lifecycle. A new process (this bench, hidden
/// <c>--child</c>) builds a host with <c>AddBufferActors</c> on the simulator — journaled to a new SQLite file, as the
/// hosting default is — starts it, resolves the client, waits for its recovery and runs one export lifecycle, printing the milliseconds since
/// the process started at each step; the parent runs it several times and reports the medians.
/// </summary>
internal static class StartupBench
{
    public static Command Create()
    {
        var runs = new Option<int>("--runs") { DefaultValueFactory = _ => 7, Description = "Fresh processes started, one after another." };
        var journal = new Option<bool>("--no-journal") { Description = "Start without a journal." };
        var child = new Option<bool>("--child") { Hidden = true, Description = "Internal: one start, in this process." };
        var command = new Command("startup", "A fresh process: time from its start to its host started, its client resolved, and its first lifecycle served.") { runs, journal, child };
        command.SetAction(r => r.GetValue(child)
            ? ChildAsync(!r.GetValue(journal)).GetAwaiter().GetResult()
            : BenchReport.Run(r, (output, report) => RunAsync(r.GetValue(runs), !r.GetValue(journal), output, report)));
        return command;
    }

    /// <summary>The steps a child reports, in order.</summary>
    private static readonly string[] Steps = ["host-started", "client-resolved", "recovered", "first-lifecycle"];

    private static async Task<int> RunAsync(int runs, bool journaled, TextWriter output, BenchReport report)
    {
        if (runs < 1)
        {
            output.WriteLine("bench startup: --runs must be at least 1");
            return 2;
        }
        output.WriteLine($"startup bench: {runs} fresh processes, each AddBufferActors on the simulator{(journaled ? " with a new SQLite journal" : " without a journal")}, " +
            $"{Environment.ProcessorCount} cores; milliseconds since the process started");
        var samples = Steps.ToDictionary(s => s, _ => new List<double>());
        for (int i = 0; i < runs; i++)
        {
            var times = await RunChildAsync(journaled).ConfigureAwait(false);
            output.WriteLine("  " + string.Join("  ", Steps.Select(s => $"{s} {times[s],6:F0}")));
            foreach (var s in Steps) samples[s].Add(times[s]);
        }
        foreach (var s in Steps)
        {
            var summary = LatencySummary.Of(samples[s]);
            output.WriteLine($"  {s,-16} median {summary.P50,6:F0} ms, max {summary.Max,6:F0} ms");
            report.Add($"startup_{s.Replace('-', '_')}_ms", summary.P50, "ms");
        }
        double first = LatencySummary.Of(samples["first-lifecycle"]).P50;
        output.WriteLine($"  target: first lifecycle served <= 300 ms after the process started: {(first <= 300 ? "met" : "NOT met")} ({first:F0} ms)");
        return 0;
    }

    private static async Task<Dictionary<string, double>> RunChildAsync(bool journaled)
    {
        string exe = Environment.ProcessPath ?? throw new InvalidOperationException("no process path");
        var start = new ProcessStartInfo(exe) { RedirectStandardOutput = true, RedirectStandardError = true };
        if (Path.GetFileNameWithoutExtension(exe) == "dotnet") start.ArgumentList.Add(typeof(StartupBench).Assembly.Location);
        foreach (var a in journaled ? new[] { "startup", "--child" } : ["startup", "--child", "--no-journal"]) start.ArgumentList.Add(a);
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {exe}");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromMinutes(2)).ConfigureAwait(false);
        var times = new Dictionary<string, double>();
        foreach (var line in (await stdout.ConfigureAwait(false)).Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var parts = line.Split(' ');
            if (parts.Length == 2 && Steps.Contains(parts[0])) times[parts[0]] = double.Parse(parts[1], CultureInfo.InvariantCulture);
        }
        if (process.ExitCode != 0 || times.Count != Steps.Length)
            throw new InvalidOperationException($"startup child exited {process.ExitCode}: {await stdout.ConfigureAwait(false)} {await stderr.ConfigureAwait(false)}");
        return times;
    }

    /// <summary>One start in this fresh process; prints each step's milliseconds since the process started.</summary>
    private static async Task<int> ChildAsync(bool journaled)
    {
        var started = Process.GetCurrentProcess().StartTime.ToUniversalTime();
        void Step(string name) => Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{name} {(DateTime.UtcNow - started).TotalMilliseconds:F1}"));
        string folder = Directory.CreateTempSubdirectory("ba-bench-startup-").FullName;
        try
        {
            using var sim = new XenSimulator(new SimulatorOptions { Seed = 1 });
            var frontend = sim.CreateDomain(1);
            var refs = frontend.GrantPages(DomainId.Dom0, frontend.AllocatePages(4), 4);
            using var host = new HostBuilder()
                .ConfigureServices(s => s.AddBufferActors(new BufferActorsOptions
                {
                    DeviceFactory = _ => sim.OpenGrantDevice(),
                    Journal = journaled ? new JournalStorage.Sqlite(Path.Combine(folder, "journal.db")) : null,
                }))
                .Build();
            await host.StartAsync().ConfigureAwait(false);
            Step("host-started");
            var client = host.Services.GetRequiredService<BufferActorsClient>();
            Step("client-resolved");
            await client.RecoveryReportAsync().ConfigureAwait(false); // answered once the manager recovered (at once without a journal)
            Step("recovered");
            var export = await client.ExportAsync(frontend.Id, refs).ConfigureAwait(false);
            await client.ReleaseAsync(export.Id).ConfigureAwait(false);
            if (await client.WaitReleasedAsync(export.Id, TimeSpan.FromSeconds(30)).ConfigureAwait(false) == WaitReleasedResult.TimedOut) return 1;
            Step("first-lifecycle");
            await host.StopAsync().ConfigureAwait(false);
            return 0;
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            Directory.Delete(folder, recursive: true);
        }
    }
}
