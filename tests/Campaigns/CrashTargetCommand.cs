using System.CommandLine;
using System.Globalization;
using BufferActors.Actors;
using BufferActors.Actors.Api;
using BufferActors.Actors.Hosting;
using BufferActors.Native;
using BufferActors.Native.Simulation.Remote;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace BufferActors.Campaigns;

/// <summary>
/// <c>crash-target</c> (hidden): a test helper for the kill-and-restart tests. It runs a real
/// BufferActors host (<c>AddBufferActors</c> on a <see cref="Native.Simulation.Remote.RemoteGrantDevice"/> and a journal)
/// connected to a simulator served elsewhere, drives the embedding client to one point of a lifecycle,
/// prints <c>ready &lt;point&gt; &lt;details&gt;</c> and then blocks until it is killed (SIGKILL in the
/// tests; SIGINT or SIGTERM stop it cleanly instead).
/// </summary>
/// <remarks>
/// <para>Points (<see cref="Points"/>); "display" and "camera" are the served simulator's devices:</para>
/// <list type="bullet">
/// <item><c>exported</c>: <c>ExportAsync</c> of the refs, nothing attached.</item>
/// <item><c>attached</c>: export, the display attaches (<c>DeviceAttach</c>), <c>AttachAsync</c>.</item>
/// <item><c>releasing</c>: attached, then <c>ReleaseAsync</c> (one attachment pending).</item>
/// <item><c>dma-export</c>: like <c>attached</c> with a DMA-backed (write-combined) export, which lowers dom0's reservation.</item>
/// <item><c>mapped</c>: <c>MapAsync</c> of the refs.</item>
/// <item><c>imported</c>: the camera allocates a 2-page buffer, <c>ImportAsync</c> grants it to the domain;
/// prints <c>imported &lt;ref1&gt;,&lt;ref2&gt;</c> and waits for a line <c>go</c> on stdin (meanwhile the
/// frontend may map a ref), then is ready.</item>
/// <item><c>deferred</c>: like <c>imported</c>, then <c>ReleaseImportAsync</c> after <c>go</c>: a ref the
/// frontend maps is parked on the kernel's deferred end-access list.</item>
/// </list>
/// <para>Details are <c>key=value</c> words: <c>id=</c> the lifecycle id (<see cref="LifecycleId.ToString"/>),
/// <c>fd=</c>, and per point <c>attachment=</c>, <c>pending=</c>, <c>refs=</c>, <c>pages=</c>.</para>
/// <para>Exit codes: 1 when the scenario fails (the reason on stderr), 0 after a clean stop.</para>
/// </remarks>
internal static class CrashTargetCommand
{
    /// <summary>First word of the line printed when the point is reached.</summary>
    public const string ReadyWord = "ready";

    /// <summary>First word of the line with the imported refs (points <c>imported</c> and <c>deferred</c>).</summary>
    public const string ImportedWord = "imported";

    /// <summary>The line the <c>imported</c> and <c>deferred</c> points wait for on stdin.</summary>
    public const string GoLine = "go";

    /// <summary>Pages of the camera buffer the import points import.</summary>
    public const int ImportPages = 2;

    /// <summary>Every point the command can stop at.</summary>
    public static IReadOnlyList<string> Points { get; } = ["exported", "attached", "releasing", "dma-export", "mapped", "imported", "deferred"];

    public static Command Create()
    {
        var socket = new Option<string>("--socket") { Description = "The served simulator's Unix socket.", Required = true };
        var journal = new Option<string>("--journal") { Description = "The journal: a SQLite file (or a PostgreSQL connection string).", Required = true };
        var point = new Option<string>("--point") { Description = $"Where to stop: {string.Join(", ", Points)}.", Required = true };
        point.AcceptOnlyFromAmong([.. Points]);
        var domain = new Option<int>("--domain") { Description = "The frontend domain.", Required = true };
        var refs = new Option<string?>("--refs") { Description = "Comma-separated grant refs the frontend granted to d0 (export and map points)." };
        var command = new Command("crash-target",
            "Test helper: run a journaled host on a remote simulator up to a lifecycle point, print 'ready <point> <details>', hold until killed.")
        {
            Hidden = true,
        };
        command.Options.Add(socket);
        command.Options.Add(journal);
        command.Options.Add(point);
        command.Options.Add(domain);
        command.Options.Add(refs);
        command.SetAction(async (result, ct) =>
        {
            int domid = result.GetValue(domain);
            if (domid is <= 0 or >= DomainId.FirstReserved) return Fail($"--domain {domid} is not a frontend domain id");
            uint[] grantRefs = [];
            if (result.GetValue(refs) is { } text && !TryParseRefs(text, out grantRefs))
                return Fail("--refs must be comma-separated unsigned integers");
            string at = result.GetRequiredValue(point);
            if (grantRefs.Length == 0 && at is not ("imported" or "deferred")) return Fail($"--point {at} needs --refs");
            return await RunAsync(result.GetRequiredValue(socket), result.GetRequiredValue(journal), at,
                new DomainId((ushort)domid), grantRefs, Console.In, Console.Out, ct);
        });
        return command;
    }

    /// <summary>Builds the host, drives it to <paramref name="point"/>, reports, and holds until <paramref name="ct"/> or the host stops.</summary>
    internal static async Task<int> RunAsync(string socket, string journal, string point, DomainId domain, uint[] refs,
        TextReader input, TextWriter output, CancellationToken ct)
    {
        using var host = RemoteJournaledHost.Build(socket, journal, Akka.Event.LogLevel.WarningLevel);
        try
        {
            await host.StartAsync(ct);
            var client = host.Services.GetRequiredService<BufferActorsClient>();
            var gntdev = (RemoteGrantDevice)host.Services.GetRequiredService<IGrantDevice>();
            string? details = await DriveAsync(client, gntdev, point, domain, refs, input, output, ct);
            if (details is null) return Fail($"{point}: stdin ended before '{GoLine}'");
            output.WriteLine($"{ReadyWord} {point} {details}");
            output.Flush();
        }
        catch (OperationCanceledException)
        {
            return Fail($"{point}: stopped before the point was reached");
        }
        catch (Exception e)
        {
            // A test helper: whatever went wrong (no simulator, a refused request, a journal failure) goes to stderr.
            return Fail($"{point}: {e.GetType().Name}: {e.Message}");
        }

        // Hold everything until killed. A clean stop (SIGINT/SIGTERM) ends the lifecycles normally.
        var stopping = host.Services.GetRequiredService<IHostApplicationLifetime>().ApplicationStopping;
        using var either = CancellationTokenSource.CreateLinkedTokenSource(ct, stopping);
        try
        {
            await Task.Delay(Timeout.Infinite, either.Token);
        }
        catch (OperationCanceledException)
        {
            // Stopping.
        }
        await host.StopAsync(CancellationToken.None);
        return 0;
    }

    /// <summary>Runs the scenario of <paramref name="point"/>; returns the details, or null if stdin ended before "go".</summary>
    private static async Task<string?> DriveAsync(BufferActorsClient client, RemoteGrantDevice gntdev, string point, DomainId domain,
        uint[] refs, TextReader input, TextWriter output, CancellationToken ct)
    {
        switch (point)
        {
            case "exported":
            {
                var export = await client.ExportAsync(domain, refs, DmaBufFlags.None, ct);
                return $"id={export.Id} fd={export.Fd}";
            }
            case "attached" or "releasing" or "dma-export":
            {
                var flags = point == "dma-export" ? DmaBufFlags.WriteCombine : DmaBufFlags.None;
                var export = await client.ExportAsync(domain, refs, flags, ct);
                ulong attachment = gntdev.DeviceAttach("display", export.Fd);
                await client.AttachAsync(export.Id, "display", DmaDirection.ToDevice, ct);
                string details = $"id={export.Id} fd={export.Fd} attachment={attachment}";
                if (point != "releasing") return details;
                var accepted = await client.ReleaseAsync(export.Id, ct);
                if (accepted.PendingAttachments != 1)
                    throw new InvalidOperationException($"release of {export.Id} left {accepted.PendingAttachments} attachments pending, not 1");
                return $"{details} pending={accepted.PendingAttachments}";
            }
            case "mapped":
            {
                var map = await client.MapAsync(domain, refs, readOnly: false, ct);
                return $"id={map.Id} pages={map.Pages.PageCount}";
            }
            case "imported" or "deferred":
            {
                int fd = gntdev.DeviceAllocateBuffer("camera", ImportPages);
                var import = await client.ImportAsync(domain, fd, ImportPages, ct);
                string granted = string.Join(",", import.Refs);
                output.WriteLine($"{ImportedWord} {granted}");
                output.Flush();
                string? line;
                do line = await input.ReadLineAsync(ct);
                while (line is not null && line.Trim() != GoLine);
                if (line is null) return null;
                if (point == "deferred") await client.ReleaseImportAsync(import.Id, ct);
                return $"id={import.Id} fd={fd} refs={granted}";
            }
            default:
                throw new InvalidOperationException($"unknown point '{point}'");
        }
    }

    private static bool TryParseRefs(string text, out uint[] refs)
    {
        var parts = text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        refs = new uint[parts.Length];
        for (int i = 0; i < parts.Length; i++)
        {
            if (!uint.TryParse(parts[i], NumberStyles.None, CultureInfo.InvariantCulture, out refs[i])) return false;
        }
        return true;
    }

    private static int Fail(string message)
    {
        Console.Error.WriteLine(message);
        return 1;
    }
}
