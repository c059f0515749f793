using System.CommandLine;
using System.Globalization;
using System.Runtime.InteropServices;
using BufferActors.Native;
using BufferActors.Native.Simulation;
using BufferActors.Native.Simulation.Remote;
using Microsoft.Extensions.Logging;

namespace BufferActors.Host;

/// <summary>
/// <c>bufferactors simulator …</c>: hosts the Xen + gntdev simulator in its own process behind a Unix
/// socket (<c>serve</c>), and a test helper that holds simulator resources until it is killed
/// (<c>client-hold</c>).
/// </summary>
public static class SimulatorCommands
{
    /// <summary>The line <c>serve</c> and <c>client-hold</c> print once they are ready to be used (or killed).</summary>
    public const string ReadyLine = "ready";

    /// <summary>Creates the <c>simulator</c> command with its <c>serve</c> and <c>client-hold</c> subcommands.</summary>
    public static Command Create()
    {
        var command = new Command("simulator", "Run the simulated Xen + gntdev in its own process, served over a Unix socket.");
        command.Subcommands.Add(CreateServe());
        command.Subcommands.Add(CreateClientHold());
        return command;
    }

    private static Option<string> SocketOption() => new("--socket")
    {
        Description = "Path of the simulator's Unix socket.",
        Required = true,
    };

    private static Command CreateServe()
    {
        var socket = SocketOption();
        var seed = new Option<int>("--seed") { Description = "Seed of the simulator (fault plans derived from it).", DefaultValueFactory = _ => 0 };
        var domains = new Option<int>("--domains") { Description = "Frontend domains to create, numbered 1..N.", DefaultValueFactory = _ => 1 };
        var pages = new Option<int>("--pages-per-domain")
        {
            Description = "Pages of (sparse) memory per frontend domain.",
            DefaultValueFactory = _ => new SimulatorOptions().DefaultDomainPages,
        };
        var share = new Option<int>("--share")
        {
            Description = "Pages each frontend domain grants to dom0 at start (their refs are printed), so clients have something to map and export.",
            DefaultValueFactory = _ => 0,
        };
        var serve = new Command("serve", "Host a simulator with frontend domains 1..N on a Unix socket until SIGINT or SIGTERM.");
        serve.Options.Add(socket);
        serve.Options.Add(share);
        serve.Options.Add(seed);
        serve.Options.Add(domains);
        serve.Options.Add(pages);
        serve.SetAction(parseResult =>
        {
            string path = parseResult.GetRequiredValue(socket);
            int domainCount = parseResult.GetValue(domains);
            int domainPages = parseResult.GetValue(pages);
            if (domainCount is < 0 or >= DomainId.FirstReserved)
                return Fail($"--domains must be between 0 and {DomainId.FirstReserved - 1}");
            if (domainPages <= 0)
                return Fail("--pages-per-domain must be positive");

            using var stop = new StopSignal();
            using var sim = new XenSimulator(new SimulatorOptions { Seed = parseResult.GetValue(seed), DefaultDomainPages = domainPages });
            int shared = parseResult.GetValue(share);
            if (shared < 0 || shared > domainPages)
                return Fail("--share must be between 0 and --pages-per-domain");
            for (int d = 1; d <= domainCount; d++)
            {
                var domain = sim.CreateDomain((ushort)d);
                if (shared == 0) continue;
                var refs = domain.GrantPages(DomainId.Dom0, domain.AllocatePages(shared), shared);
                Console.Out.WriteLine($"{domain.Id} grants refs {refs[0]}..{refs[^1]} to d0");
            }
            // Dropped connections are reported on stderr: stdout carries the lines scripts wait for.
            using var logging = LoggerFactory.Create(b => b
                .SetMinimumLevel(LogLevel.Information)
                .AddConsole(o => o.LogToStandardErrorThreshold = LogLevel.Trace)
                .AddSimpleConsole(o => o.SingleLine = true));
            using var server = new SimulatorServer(sim, path, logging.CreateLogger<SimulatorServer>());
            try
            {
                server.Start();
            }
            catch (UnixSocketException e)
            {
                return Fail(e.Message);
            }
            Console.Out.WriteLine(path);
            Console.Out.WriteLine(ReadyLine);
            Console.Out.Flush();
            stop.Wait();
            return 0;
        });
        return serve;
    }

    private static Command CreateClientHold()
    {
        var socket = SocketOption();
        var domain = new Option<int>("--domain") { Description = "The frontend domain that granted the refs.", Required = true };
        var refs = new Option<string>("--refs") { Description = "Comma-separated grant refs to export, e.g. 8,9,10.", Required = true };
        var device = new Option<string>("--device") { Description = "Simulated device that attaches to the export.", DefaultValueFactory = _ => "display" };
        var mapRefs = new Option<string?>("--map-refs") { Description = "Comma-separated grant refs of the same domain to map as well." };
        var importPages = new Option<int>("--import-pages") { Description = "Allocate a device buffer of N pages and import it, granted to the domain.", DefaultValueFactory = _ => 0 };
        var hold = new Command("client-hold",
            "Test helper: export refs, let a device attach, optionally map and import, print 'ready', then hold everything until killed.");
        hold.Options.Add(socket);
        hold.Options.Add(domain);
        hold.Options.Add(refs);
        hold.Options.Add(device);
        hold.Options.Add(mapRefs);
        hold.Options.Add(importPages);
        hold.SetAction(parseResult =>
        {
            int domid = parseResult.GetValue(domain);
            if (domid is < 0 or >= ushort.MaxValue) return Fail($"--domain {domid} is not a domain id");
            var frontend = new DomainId((ushort)domid);
            if (!TryParseRefs(parseResult.GetRequiredValue(refs), out var exportRefs)) return Fail("--refs must be comma-separated unsigned integers");
            uint[] mappedRefs = [];
            if (parseResult.GetValue(mapRefs) is { } m && !TryParseRefs(m, out mappedRefs)) return Fail("--map-refs must be comma-separated unsigned integers");
            string deviceName = parseResult.GetValue(device) ?? "display";
            int pagesToImport = parseResult.GetValue(importPages);

            using var stop = new StopSignal();
            try
            {
                using var gntdev = RemoteGrantDevice.Connect(parseResult.GetRequiredValue(socket));
                var export = gntdev.ExportDmaBuf(DmaBufFlags.None, frontend, exportRefs);
                ulong attachment = gntdev.DeviceAttach(deviceName, export.Fd);
                Console.Out.WriteLine($"export fd {export.Fd} attached by {deviceName} as attachment {attachment}");
                if (mappedRefs.Length > 0)
                {
                    var mapping = gntdev.MapGrantRefs(frontend, mappedRefs);
                    Console.Out.WriteLine($"mapped {mapping.PageCount} page(s) at index {mapping.Index}");
                }
                if (pagesToImport > 0)
                {
                    int buffer = gntdev.DeviceAllocateBuffer(deviceName, pagesToImport);
                    var import = gntdev.ImportDmaBuf(buffer, pagesToImport, frontend);
                    Console.Out.WriteLine($"imported fd {buffer} as refs {string.Join(",", import.Refs)}");
                }
                Console.Out.WriteLine(ReadyLine);
                Console.Out.Flush();
                // Hold until killed; SIGINT/SIGTERM end the connection cleanly instead.
                stop.Wait();
                return 0;
            }
            catch (NativeCallException e)
            {
                return Fail(e.Message);
            }
        });
        return hold;
    }

    private static bool TryParseRefs(string text, out uint[] refs)
    {
        var parts = text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        refs = new uint[parts.Length];
        for (int i = 0; i < parts.Length; i++)
        {
            if (!uint.TryParse(parts[i], NumberStyles.None, CultureInfo.InvariantCulture, out refs[i])) return false;
        }
        return refs.Length > 0;
    }

    private static int Fail(string message)
    {
        Console.Error.WriteLine(message);
        return 1;
    }

    /// <summary>Set by SIGINT or SIGTERM, whose default (abrupt) handling it cancels so the caller can clean up.</summary>
    private sealed class StopSignal : IDisposable
    {
        private readonly ManualResetEventSlim _stopped = new();
        private readonly PosixSignalRegistration _interrupt;
        private readonly PosixSignalRegistration _terminate;

        public StopSignal()
        {
            _interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, Handle);
            _terminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Handle);
        }

        public void Wait() => _stopped.Wait();

        public void Dispose()
        {
            _interrupt.Dispose();
            _terminate.Dispose();
            _stopped.Dispose();
        }

        private void Handle(PosixSignalContext context)
        {
            context.Cancel = true;
            _stopped.Set();
        }
    }
}
