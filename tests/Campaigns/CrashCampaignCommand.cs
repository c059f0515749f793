using System.CommandLine;
using System.Text.Json;
using BufferActors.Actors.Persistence;

namespace BufferActors.Campaigns;

/// <summary>
/// <c>crash</c>: the crash campaign. A journaled host runs as a child process (<c>crash-workload</c>), is
/// SIGKILLed at seeded points and restarted on the same journal each time; every restart must reclaim what was
/// live, the ledger must come back to baseline after every kill, and no acknowledged step may be missing.
/// </summary>
internal static class CrashCampaignCommand
{
    public static Command Create()
    {
        var points = new Option<int>("--points") { Description = "SIGKILLs, each at a seeded point of a run.", DefaultValueFactory = _ => 20 };
        var seed = new Option<int>("--seed") { Description = "The seed: the only input of the campaign.", DefaultValueFactory = _ => 1 };
        var journal = new Option<string?>("--journal") { Description = "A new SQLite file for the journal (a temporary one by default)." };
        var json = new Option<bool>("--json") { Description = "One JSON object instead of the summary." };
        var durability = new Option<string>("--durability") { Description = "The journal's durability: process (the default) or power.", DefaultValueFactory = _ => "process" };
        durability.AcceptOnlyFromAmong("process", "power");
        var command = new Command("crash", "The crash campaign: SIGKILL a journaled host at N seeded points, restarting it on the same journal each time.");
        foreach (var o in new Option[] { points, seed, journal, json, durability }) command.Options.Add(o);
        command.SetAction(r => RunAsync(new CrashCampaign.Settings(r.GetValue(points), r.GetValue(seed), r.GetValue(journal))
        {
            Durability = r.GetValue(durability) == "power" ? JournalDurability.Power : JournalDurability.Process,
        }, r.GetValue(json), Console.Out));
        return command;
    }

    /// <summary>The crash campaign: summary or JSON; exit 0 only if every kill was recovered from with nothing leaked or lost.</summary>
    public static async Task<int> RunAsync(CrashCampaign.Settings s, bool json, TextWriter output)
    {
        if (s.Points is < 1 or > 1000) { output.WriteLine("crash: --points must be 1..1000"); return 2; }
        if (s.Journal is { } path && (path.Contains("Host=", StringComparison.OrdinalIgnoreCase) || File.Exists(path)))
        {
            output.WriteLine($"crash: --journal {path}: the crash campaign needs a new SQLite file");
            return 2;
        }
        if (!json) output.WriteLine($"crash campaign: {s.Points} SIGKILLs of a journaled host (journal durability {s.Durability.ToString().ToLowerInvariant()}), seed {s.Seed}, " +
            $"{s.Domains} frontends x {s.BuffersPerDomain} buffers x {s.Pages} pages per run, kill after 1..{s.MaxAcksPerRun} acknowledged steps");
        var r = await new CrashCampaign(s).RunAsync(json ? TextWriter.Null : output).ConfigureAwait(false);
        if (json)
        {
            output.WriteLine(JsonSerializer.Serialize(new
            {
                seed = s.Seed,
                crashPoints = r.Kills,
                acknowledged = r.Acks,
                reclaimed = r.Reclaimed,
                eventsInJournal = r.EventsInJournal,
                violations = r.Violations,
                passed = r.Passed,
                elapsedMs = Math.Round(r.ElapsedMs),
            }));
        }
        else
        {
            output.WriteLine($"{r.Kills} kills, {r.Acks} acknowledged steps, {r.Reclaimed} lifecycles reclaimed on restart, {r.EventsInJournal} events in the journal, {r.ElapsedMs / 1000:F1} s");
            if (r.Passed) output.WriteLine("PASS: every restart reclaimed what was live, the ledger came back to baseline after every kill, no acknowledged step is missing from the journal.");
            else
            {
                output.WriteLine($"FAIL: {r.Violations.Count} violation(s); reproduce: dotnet run --project tests/Campaigns -- crash --points {s.Points} --seed {s.Seed}");
                foreach (var v in r.Violations.Take(20)) output.WriteLine($"  {v}");
            }
        }
        return r.Passed ? 0 : 1;
    }

}
