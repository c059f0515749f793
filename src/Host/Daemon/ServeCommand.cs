using System.CommandLine;
using Akka.Hosting;
using BufferActors.Actors.Hosting;
using BufferActors.Actors.Persistence;
using BufferActors.Host.Daemon.Protocol;
using BufferActors.Native;
using BufferActors.Native.Simulation;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

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
        var socket = new Option<string>("--socket") { Required = true, Description = "Path of the Unix socket to serve." };
        var device = new Option<string>("--device") { DefaultValueFactory = _ => "linux", Description = "linux (/dev/xen/gntdev) or simulator (an in-process simulated Xen with frontends that grant pages)." };
        device.AcceptOnlyFromAmong("linux", "simulator");
        var devicePath = new Option<string>("--device-path") { DefaultValueFactory = _ => "/dev/xen/gntdev", Description = "The gntdev node (linux)." };
        var journal = new Option<string?>("--journal") { Description = "SQLite journal file: lifecycles survive a crash of the daemon." };
        var postgres = new Option<string?>("--postgres") { Description = "PostgreSQL connection string for the journal." };
        var mode = new Option<string>("--mode") { DefaultValueFactory = _ => "660", Description = "Permission bits of the socket file, octal." };
        var frontends = new Option<int>("--frontends") { DefaultValueFactory = _ => 2, Description = "Simulator: frontend domains (ids 1..N), each granting --pages pages to the daemon." };
        var pages = new Option<int>("--pages") { DefaultValueFactory = _ => 64, Description = "Simulator: pages each frontend grants." };
        var allow = new Option<string[]>("--allow")
        {
            Description = "A uid that may use the daemon, and the frontend domains it may act for: UID (any domain) or UID:DOMID,DOMID,... Repeatable; the daemon's own uid is always allowed.",
            AllowMultipleArgumentsPerToken = false,
        };
        var operators = new Option<int[]>("--operator") { Description = "A uid that may read the daemon's status (bufferactors status). Repeatable; the daemon's own uid always may." };
        var grace = new Option<int>("--grace") { DefaultValueFactory = _ => 10, Description = "Seconds a stop waits for clients' lifecycles to end." };
        var command = new Command("serve", "Serve BufferActors to C/C++ backends over a Unix socket (docs/protocol.md).");
        foreach (var o in new Option[] { socket, device, devicePath, journal, postgres, mode, frontends, pages, allow, operators, grace }) command.Options.Add(o);
        command.SetAction(async (r, ct) =>
        {
            string? problem = null;
            int modeBits = 0;
            try
            {
                modeBits = Convert.ToInt32(r.GetValue(mode), 8);
            }
            catch (FormatException)
            {
                problem = $"--mode {r.GetValue(mode)} is not octal";
            }
            if (r.GetValue(journal) is not null && r.GetValue(postgres) is not null) problem = "--journal and --postgres exclude each other";
            if (r.GetValue(frontends) is < 1 or > 64 || r.GetValue(pages) is < 1 or > 65536) problem = "--frontends must be 1..64 and --pages 1..65536";
            if (r.GetValue(grace) < 0) problem = "--grace must not be negative";
            var policy = DaemonPolicy.OwnerOnly();
            try
            {
                policy = Policy(r.GetValue(allow) ?? [], r.GetValue(operators) ?? []);
            }
            catch (FormatException e)
            {
                problem = e.Message;
            }
            if (problem is not null)
            {
                Console.Error.WriteLine($"serve: {problem}");
                return 2;
            }
            var storage = r.GetValue(journal) is { } file ? new JournalStorage.Sqlite(file) : r.GetValue(postgres) is { } conn ? JournalStorage.Parse(conn) : null;
            return await RunAsync(r.GetRequiredValue(socket), r.GetValue(device) == "simulator", r.GetValue(devicePath)!, storage, modeBits, policy,
                r.GetValue(frontends), r.GetValue(pages), TimeSpan.FromSeconds(r.GetValue(grace)), ct).ConfigureAwait(false);
        });
        return command;
    }

    /// <summary>The owner's policy widened by <c>--allow</c> and <c>--operator</c>.</summary>
    /// <exception cref="FormatException">An entry is not UID or UID:DOMID,...; a domid is reserved.</exception>
    public static DaemonPolicy Policy(IEnumerable<string> allow, IEnumerable<int> operators)
    {
        var owner = DaemonPolicy.OwnerOnly();
        var domains = new Dictionary<int, IReadOnlySet<ushort>?>(owner.DomainsByUid);
        foreach (string entry in allow)
        {
            var parts = entry.Split(':', 2);
            if (!int.TryParse(parts[0], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int uid))
                throw new FormatException($"--allow {entry}: UID or UID:DOMID,DOMID,... expected");
            if (parts.Length == 1)
            {
                domains[uid] = null;
                continue;
            }
            var ids = new HashSet<ushort>();
            foreach (string id in parts[1].Split(','))
            {
                if (!ushort.TryParse(id, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out ushort domid) || new DomainId(domid).IsReserved)
                    throw new FormatException($"--allow {entry}: {id} is not a frontend domain id (0..{DomainId.FirstReserved - 1})");
                ids.Add(domid);
            }
            domains[uid] = ids;
        }
        return owner with { DomainsByUid = domains, Operators = new HashSet<int>(owner.Operators.Concat(operators)) };
    }

    private static async Task<int> RunAsync(string socket, bool simulator, string devicePath, JournalStorage? journal, int mode, DaemonPolicy policy, int frontends, int pages, TimeSpan grace, CancellationToken ct)
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
        var settings = new ServeSettings(socket, mode, simulator ? WireDevice.Simulator : WireDevice.Linux, policy, grace, journal is not null,
            server =>
            {
                Console.Out.WriteLine($"{ReadyWord} {server.Path}");
                Console.Out.Flush();
            },
            sim is null ? null : sim.Ledger);
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
