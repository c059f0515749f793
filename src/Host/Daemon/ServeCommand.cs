using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;
using Akka.Hosting;
using BufferActors.Actors.Hosting;
using BufferActors.Actors.Persistence;
using BufferActors.Host.Daemon.Protocol;
using BufferActors.Native;
using BufferActors.Native.Simulation;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using OpenTelemetry.Metrics;

namespace BufferActors.Host.Daemon;

/// <summary>
/// <c>bufferactors serve --socket PATH [--device linux|simulator] [--journal FILE | --postgres CONN]</c>: the daemon C
/// and C++ backends use (docs/protocol.md). A generic host (systemd-aware) runs BufferActors and the socket; SIGTERM
/// or SIGINT stops accepting, ends what clients owned within the grace period, drains the journal and exits 0.
/// </summary>
internal static class ServeCommand
{
    /// <summary>Printed once the socket is bound.</summary>
    public const string ReadyWord = "ready";

    public static Command Create()
    {
        var config = new Option<string?>("--config") { Description = "A JSON file whose section \"Serve\" sets any of the keys below (docs/operations.md); environment variables BUFFERACTORS_Serve__KEY override it, options override both." };
        var socket = new Option<string>("--socket") { Description = "Path of the Unix socket to serve (key Socket; required)." };
        var device = new Option<string>("--device") { Description = "linux (/dev/xen/gntdev, the default) or simulator (an in-process simulated Xen with frontends that grant pages)." };
        device.AcceptOnlyFromAmong("linux", "simulator");
        var devicePath = new Option<string>("--device-path") { Description = "The gntdev node (linux; default /dev/xen/gntdev)." };
        var journal = new Option<string>("--journal") { Description = "SQLite journal file: lifecycles survive a crash of the daemon." };
        var postgres = new Option<string>("--postgres") { Description = "PostgreSQL connection string for the journal." };
        var durability = new Option<string>("--journal-durability") { Description = "What an acknowledged write of the SQLite journal survives: process (a crash of the daemon; the default) or power (a power loss too: one fsync per group commit)." };
        var mode = new Option<string>("--mode") { Description = "Permission bits of the socket file, octal (default 660)." };
        var group = new Option<string>("--group") { Description = "Group of the socket file, a name or a gid (default: the daemon's group); with mode 660 its members may connect." };
        var frontends = new Option<int>("--frontends") { Description = "Simulator: frontend domains (ids 1..N, default 2), each granting --pages pages to the daemon." };
        var pages = new Option<int>("--pages") { Description = "Simulator: pages each frontend grants (default 64)." };
        var allow = new Option<string[]>("--allow")
        {
            Description = "A uid that may use the daemon, and the frontend domains it may act for: UID (any domain) or UID:DOMID,DOMID,... Repeatable; the daemon's own uid is always allowed.",
        };
        var operators = new Option<int[]>("--operator") { Description = "A uid that may read the daemon's status (bufferactors status). Repeatable; the daemon's own uid always may." };
        var metricsListen = new Option<string>("--metrics-listen") { Description = "HOST:PORT of a Prometheus scrape endpoint (http://HOST:PORT/metrics) for the BufferActors meter (default: none)." };
        var grace = new Option<int>("--grace") { Description = "Seconds a stop waits for clients' lifecycles to end (default 10)." };
        var command = new Command("serve", "Serve BufferActors to C/C++ backends over a Unix socket (docs/protocol.md, docs/operations.md).");
        var keys = new (Option Option, string Key)[]
        {
            (socket, "Socket"), (device, "Device"), (devicePath, "DevicePath"), (journal, "Journal"), (postgres, "Postgres"), (durability, "JournalDurability"), (mode, "Mode"), (group, "Group"),
            (frontends, "Frontends"), (pages, "Pages"), (allow, "Allow"), (operators, "Operators"), (grace, "Grace"), (metricsListen, "MetricsListen"),
        };
        command.Options.Add(config);
        foreach (var (o, _) in keys) command.Options.Add(o);
        command.SetAction(async (r, ct) =>
        {
            ServeConfiguration settings;
            try
            {
                settings = Configure(r.GetValue(config), keys.Where(k => r.GetResult(k.Option) is { Implicit: false }).SelectMany(k => Entries(r, k.Option, k.Key)));
            }
            catch (Exception e) when (e is FileNotFoundException or InvalidDataException or FormatException or InvalidOperationException)
            {
                Console.Error.WriteLine($"serve: {e.Message}");
                return 2;
            }
            var problems = settings.Problems().ToList();
            DaemonPolicy policy = DaemonPolicy.OwnerOnly();
            try
            {
                if (problems.Count == 0) policy = settings.Policy();
            }
            catch (FormatException e)
            {
                problems.Add(e.Message);
            }
            if (problems.Count > 0)
            {
                foreach (var p in problems) Console.Error.WriteLine($"serve: {p}");
                return 2;
            }
            // The checks of `bufferactors doctor`, for the mode configured: a daemon that cannot serve does not start.
            var doctor = BufferActors.Actors.Diagnostics.DoctorReport.Evaluate(BufferActors.Actors.Diagnostics.MachineProbe.Probe(settings.DevicePath, settings.Journal, askDevice: settings.Device == "linux"), settings.Device);
            if (!doctor.CanRun)
            {
                Console.Error.WriteLine($"serve: --device {settings.Device} cannot run here (bufferactors doctor):");
                foreach (var f in doctor.Findings.Where(f => f.Outcome is BufferActors.Actors.Diagnostics.DoctorReport.Outcome.Ok or BufferActors.Actors.Diagnostics.DoctorReport.Outcome.Failed))
                    Console.Error.WriteLine($"  [{(f.Outcome == BufferActors.Actors.Diagnostics.DoctorReport.Outcome.Ok ? "ok" : "FAILED")}] {f.Check}: {f.Evidence}{(f.Hint is null ? "" : $" ({f.Hint})")}");
                return 2;
            }
            var storage = settings.Journal is { } file
                ? new JournalStorage.Sqlite(file) { Durability = settings.JournalDurability == "power" ? JournalDurability.Power : JournalDurability.Process }
                : settings.Postgres is { } conn ? JournalStorage.Parse(conn) : null;
            return await RunAsync(settings.Socket!, settings.Device == "simulator", settings.DevicePath, storage, (settings.ModeBits, settings.GroupId), policy,
                settings.Frontends, settings.Pages, TimeSpan.FromSeconds(settings.Grace), settings.MetricsEndpoint, ct).ConfigureAwait(false);
        });
        return command;
    }

    /// <summary>
    /// The configuration from, in rising precedence, the JSON file, the environment (BUFFERACTORS_Serve__KEY) and the
    /// options given on the command line (as "Serve:KEY" entries).
    /// </summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">The file is no JSON.</exception>
    /// <exception cref="InvalidOperationException">A value does not fit its key's type.</exception>
    public static ServeConfiguration Configure(string? file, IEnumerable<KeyValuePair<string, string?>> options)
    {
        var builder = new ConfigurationBuilder();
        if (file is not null)
        {
            string path = Path.GetFullPath(file);
            if (!File.Exists(path)) throw new FileNotFoundException($"--config {path}: no such file", path);
            builder.AddJsonFile(path, optional: false);
        }
        builder.AddEnvironmentVariables("BUFFERACTORS_").AddInMemoryCollection(options);
        return builder.Build().GetSection("Serve").Get<ServeConfiguration>(o => o.ErrorOnUnknownConfiguration = true) ?? new ServeConfiguration();
    }

    private static IEnumerable<KeyValuePair<string, string?>> Entries(ParseResult r, Option option, string key)
    {
        object? value = r.GetResult(option)!.GetValueOrDefault<object?>();
        if (value is System.Collections.IEnumerable many and not string)
        {
            int i = 0;
            foreach (var item in many) yield return new($"Serve:{key}:{i++}", Convert.ToString(item, CultureInfo.InvariantCulture));
        }
        else
        {
            yield return new($"Serve:{key}", Convert.ToString(value, CultureInfo.InvariantCulture));
        }
    }

    private static async Task<int> RunAsync(string socket, bool simulator, string devicePath, JournalStorage? journal, (int Bits, int? Group) mode, DaemonPolicy policy, int frontends, int pages, TimeSpan grace, (string Host, int Port)? metricsListen, CancellationToken ct)
    {
        using var sim = simulator ? new XenSimulator(new SimulatorOptions()) : null;
        var options = new BufferActorsOptions { DevicePath = devicePath, Journal = journal };
        if (sim is not null)
        {
            // The frontends share their pages up front; their refs are printed for clients to export.
            for (ushort d = 1; d <= frontends; d++)
            {
                var frontend = sim.CreateDomain(d, pages);
                uint first = frontend.AllocatePages(pages);
                for (int p = 0; p < pages; p++) FillWithPattern(frontend.Page(first + (uint)p), d, p);
                var refs = frontend.GrantPages(DomainId.Dom0, first, pages);
                Console.Out.WriteLine($"frontend {d} refs {string.Join(",", refs)}");
            }
            options = options with { DeviceFactory = _ => sim.OpenGrantDevice(sim.StartProcess("bufferactors serve")) };
        }
        var settings = new ServeSettings(socket, mode.Bits, simulator ? WireDevice.Simulator : WireDevice.Linux, policy, grace, journal is not null,
            server =>
            {
                Console.Out.WriteLine($"{ReadyWord} {server.Path}");
                Console.Out.Flush();
            },
            sim is null ? null : sim.Ledger)
        { Group = mode.Group };
        using var host = new HostBuilder()
            .UseSystemd()
            .ConfigureLogging(l => l
                // stdout carries the lines clients read (frontends, ready); logs go to stderr.
                .AddConsole(o => o.LogToStandardErrorThreshold = LogLevel.Trace)
                .AddSimpleConsole(o => o.SingleLine = true)
                .SetMinimumLevel(LogLevel.Information))
            .ConfigureServices(services =>
            {
                services.AddBufferActors(options, akka => akka.ConfigureLoggers(l =>
                {
                    l.LogLevel = Akka.Event.LogLevel.WarningLevel;
                    l.ClearLoggers();
                    l.AddLoggerFactory(); // Akka's log through the host's, to stderr (or the systemd journal)
                }));
                services.AddSingleton(settings);
                services.AddHostedService<DaemonService>();
                if (metricsListen is not null)
                {
                    services.AddOpenTelemetry().WithMetrics(metrics => metrics
                        .AddMeter(BufferActors.Actors.Diagnostics.BufferActorsMetrics.MeterName)
                        .AddPrometheusHttpListener(o =>
                        {
                            o.Host = metricsListen.Value.Host;
                            o.Port = metricsListen.Value.Port;
                        }));
                }
            })
            .Build();
        try
        {
            await host.RunAsync(ct).ConfigureAwait(false);
        }
        catch (UnixSocketException e)
        {
            Console.Error.WriteLine($"serve: {e.Message}");
            return 2;
        }
        return 0;
    }

    /// <summary>What a simulated frontend draws: byte k of its page p is <c>(domid * 16 + p + k) mod 256</c>.</summary>
    public static void FillWithPattern(Span<byte> page, int domid, int pageIndex)
    {
        for (int k = 0; k < page.Length; k++) page[k] = unchecked((byte)(domid * 16 + pageIndex + k));
    }
}
