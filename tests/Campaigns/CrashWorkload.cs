using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using BufferActors.Actors;
using BufferActors.Actors.Api;
using BufferActors.Actors.Persistence;
using BufferActors.Native;
using BufferActors.Native.Simulation.Remote;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace BufferActors.Campaigns;

/// <summary>
/// <c>crash-workload</c> (hidden): the host side of the crash campaign (<see cref="CrashCampaign"/>). It
/// starts a journaled BufferActors host on a simulator served by the campaign, prints what recovery
/// found (<c>recovered {json}</c>), then runs seeded export, import and map lifecycles over the grant
/// refs the campaign handed it, printing <c>ack &lt;step&gt; &lt;id&gt;</c> after every step the client
/// was told succeeded, until it is killed (<c>--operations -1</c>), or for that many steps before letting
/// go of everything and stopping cleanly; <c>--operations 0</c> only recovers and stops.
/// </summary>
internal static class CrashWorkload
{
    /// <summary>First word of the recovery line.</summary>
    public const string RecoveredWord = "recovered";

    /// <summary>First word of an acknowledgement line.</summary>
    public const string AckWord = "ack";

    /// <summary>The served simulator's device the exports are attached to.</summary>
    public const string Display = "display";

    /// <summary>The served simulator's device the imported buffers come from.</summary>
    public const string Camera = "camera";

    /// <summary>What recovery found, as the child prints it.</summary>
    internal sealed record Recovered(long Events, string[] Adopted, string[] Reclaimed, int[] Tell);

    public static Command Create()
    {
        var socket = new Option<string>("--socket") { Required = true, Description = "The campaign's simulator socket." };
        var journal = new Option<string>("--journal") { Required = true, Description = "The SQLite journal shared by every run of the campaign." };
        var pool = new Option<string>("--pool") { Required = true, Description = "File of buffers: one line per buffer, 'domain ref,ref,...'." };
        var seed = new Option<int>("--seed") { Required = true, Description = "Seed of this run's steps." };
        var durability = new Option<string>("--durability") { DefaultValueFactory = _ => "process", Description = "The journal's durability: process or power." };
        var operations = new Option<int>("--operations") { DefaultValueFactory = _ => -1, Description = "Steps to run then stop cleanly; -1 runs until killed; 0 only recovers." };
        var command = new Command("crash-workload", "Crash campaign helper: a journaled host running lifecycles until it is killed.") { Hidden = true };
        foreach (var o in new Option[] { socket, journal, pool, seed, operations, durability }) command.Options.Add(o);
        command.SetAction(async (r, ct) =>
        {
            try
            {
                var buffers = ReadPool(r.GetRequiredValue(pool));
                var mode = r.GetValue(durability) == "power" ? JournalDurability.Power : JournalDurability.Process;
                return await RunAsync(r.GetRequiredValue(socket), r.GetRequiredValue(journal), mode, buffers, r.GetValue(seed), r.GetValue(operations), Console.Out, ct);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                // A campaign helper: anything unexpected (a refused step, a lost simulator) goes to stderr for the campaign to report.
                Console.Error.WriteLine($"crash-workload: {e.GetType().Name}: {e.Message}");
                return 1;
            }
        });
        return command;
    }

    /// <summary>The buffers of a pool file: frontend domain and the refs it granted to dom0.</summary>
    internal static List<(DomainId Domain, uint[] Refs)> ReadPool(string path) =>
        [.. File.ReadAllLines(path).Where(l => l.Length > 0).Select(line =>
        {
            var parts = line.Split(' ');
            return (new DomainId(ushort.Parse(parts[0], CultureInfo.InvariantCulture)),
                parts[1].Split(',').Select(x => uint.Parse(x, CultureInfo.InvariantCulture)).ToArray());
        })];

    private static async Task<int> RunAsync(string socket, string journal, JournalDurability durability, List<(DomainId Domain, uint[] Refs)> buffers, int seed, int operations,
        TextWriter output, CancellationToken ct)
    {
        using var host = RemoteJournaledHost.Build(socket, journal, Akka.Event.LogLevel.ErrorLevel, durability);
        await host.StartAsync(ct);
        var client = host.Services.GetRequiredService<BufferActorsClient>();
        var report = await client.RecoveryReportAsync(ct);
        var recovered = new Recovered(report.EventsRecovered, [.. report.Adopted.Select(id => id.ToString())],
            [.. report.Reclaimed.Select(r => r.Id.ToString())], [.. report.FrontendsToTell.Select(d => (int)d.Value)]);
        output.WriteLine($"{RecoveredWord} {JsonSerializer.Serialize(recovered)}");
        output.Flush();
        if (operations != 0)
        {
            var steps = new CrashWorkloadSteps(client, (RemoteGrantDevice)host.Services.GetRequiredService<IGrantDevice>(), buffers, seed,
                (step, id) => { output.WriteLine($"{AckWord} {step} {id}"); output.Flush(); });
            for (int n = 0; operations < 0 || n < operations; n++) await steps.NextAsync(ct);
            await steps.LetGoAsync(ct);
        }
        await host.StopAsync(CancellationToken.None);
        return 0;
    }
}
