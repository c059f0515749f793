using System.CommandLine;
using System.Globalization;
using System.Text;
using BufferActors.Actors.Persistence;
using BufferActors.Actors.Persistence.Replay;
using BufferActors.Host.Replay;

namespace BufferActors.Host.Commands;

/// <summary>
/// <c>replay</c>: reads the lifecycle journal back (Akka.Persistence.Query), rebuilds every lifecycle's
/// timeline and reports the anomalies (<see cref="JournalTimeline"/> defines the rules). Output is a table, one
/// JSON object (<c>--json</c>) and/or a self-contained HTML timeline (<c>--html</c>).
/// </summary>
internal static class ReplayCommand
{
    /// <summary>The journal was read (anomalies or not).</summary>
    public const int Ok = 0;

    /// <summary>Bad arguments, or the HTML file could not be written.</summary>
    public const int Failed = 1;

    /// <summary>The journal could not be read; the reason is on stderr.</summary>
    public const int Unreadable = 2;

    /// <summary>With <c>--simulate</c>: the re-execution diverged from the record at least once.</summary>
    public const int Diverged = 3;

    public static Command Create()
    {
        var journal = new Option<string>("--journal")
        {
            Description = "The journal to read: a SQLite file (as written by 'demo --journal'), or a PostgreSQL connection string (contains Host=).",
            Required = true,
        };
        var json = new Option<bool>("--json") { Description = "Print one JSON object on stdout (lifecycles, live, anomalies, totals) instead of the table." };
        var html = new Option<string?>("--html") { Description = "Also write a self-contained HTML timeline (one row per lifecycle) to this file.", HelpName = "out.html" };
        var simulate = new Option<bool>("--simulate")
        {
            Description = "Also re-execute the journal's device operations against a fresh simulator, deterministically, and report " +
                          "where the re-run diverges from the record (exit code 3 when it does).",
        };
        var seed = new Option<int>("--seed") { Description = "The simulator's seed for --simulate.", DefaultValueFactory = _ => 0 };
        var command = new Command("replay",
            "Rebuild every lifecycle's timeline from the journal and report anomalies: lifecycles never finished, " +
            "unmap before detach, waits never answered, reservation not restored, refs never ended. " +
            "Exit code 0 when the journal was read, even if it shows anomalies; 2 when the journal is unreadable " +
            "(missing, empty, not SQLite, truncated, corrupt, no journal table, an unreadable event), with the reason on stderr; " +
            "1 on bad arguments or when the --html file cannot be written; " +
            "with --simulate, 3 when re-executing the journal against the simulator diverges from the record.");
        command.Options.Add(journal);
        command.Options.Add(json);
        command.Options.Add(html);
        command.Options.Add(simulate);
        command.Options.Add(seed);
        command.SetAction((result, ct) => ReplayAsync(result.GetValue(journal)!, result.GetValue(json), result.GetValue(html),
            result.GetValue(simulate) ? result.GetValue(seed) : null,
            result.InvocationConfiguration.Output, result.InvocationConfiguration.Error, ct));
        return command;
    }

    /// <summary>Parses <paramref name="args"/> (what follows <c>replay</c> on the command line) and runs it, writing to the given writers.</summary>
    internal static Task<int> RunAsync(IReadOnlyList<string> args, TextWriter output, TextWriter error, CancellationToken cancellationToken = default)
    {
        var root = new RootCommand("bufferactors") { Create() };
        return root.Parse(["replay", .. args]).InvokeAsync(new InvocationConfiguration { Output = output, Error = error }, cancellationToken);
    }

    /// <summary>
    /// Reads the journal at <paramref name="location"/> and reports; never throws for an unreadable journal. With a
    /// <paramref name="simulateSeed"/>, also re-executes it against the simulator (<see cref="JournalReexecution"/>).
    /// </summary>
    internal static async Task<int> ReplayAsync(string location, bool json, string? htmlPath, int? simulateSeed, TextWriter output, TextWriter error,
        CancellationToken cancellationToken)
    {
        if (string.IsNullOrWhiteSpace(location))
        {
            await error.WriteLineAsync("replay: --journal needs a SQLite path or a PostgreSQL connection string").ConfigureAwait(false);
            return Failed;
        }
        var storage = JournalStorage.Parse(location);
        string where = JournalReader.Describe(storage);
        JournalTimeline timeline;
        ReexecutionResult? rerun = null;
        try
        {
            var entries = await JournalReader.ReadAsync(storage, cancellationToken).ConfigureAwait(false);
            timeline = JournalTimeline.Build(entries);
            if (simulateSeed is { } seed) rerun = JournalReexecution.Run(entries, seed);
        }
        catch (JournalUnreadableException e)
        {
            await error.WriteLineAsync($"replay: cannot read the journal: {e.Message}").ConfigureAwait(false);
            return Unreadable;
        }
        catch (JournalFormatException e)
        {
            await error.WriteLineAsync($"replay: the journal holds an unreadable event: {e.Message}").ConfigureAwait(false);
            return Unreadable;
        }
        catch (ArgumentException e)
        {
            // JournalTimeline refuses events out of sequence order: the journal did not return what it promised.
            await error.WriteLineAsync($"replay: cannot rebuild the timelines: {e.Message}").ConfigureAwait(false);
            return Unreadable;
        }

        if (htmlPath is not null)
        {
            try
            {
                await File.WriteAllTextAsync(htmlPath, ReplayHtml.Render(timeline, where), new UTF8Encoding(false), cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
            {
                await error.WriteLineAsync($"replay: cannot write {htmlPath}: {e.Message}").ConfigureAwait(false);
                return Failed;
            }
        }

        if (json)
        {
            await output.WriteLineAsync(ReplayJson.ToJson(timeline, where, indented: true, rerun)).ConfigureAwait(false);
            // stdout holds exactly the one JSON object; anything for people goes to stderr.
            if (htmlPath is not null) await error.WriteLineAsync($"replay: timeline written to {Path.GetFullPath(htmlPath)}").ConfigureAwait(false);
            return ExitCode(rerun);
        }

        WriteTable(output, timeline, where);
        if (htmlPath is not null) await output.WriteLineAsync($"Timeline written to {Path.GetFullPath(htmlPath)}").ConfigureAwait(false);
        if (rerun is not null)
        {
            await output.WriteLineAsync().ConfigureAwait(false);
            WriteReexecution(output, rerun);
        }
        return ExitCode(rerun);
    }

    private static int ExitCode(ReexecutionResult? rerun) => rerun is { Divergences.Count: > 0 } ? Diverged : Ok;

    private static void WriteReexecution(TextWriter o, ReexecutionResult r)
    {
        o.WriteLine($"Re-execution against the simulator (seed {r.Seed}): re-executed {r.Operations} operations, {r.Divergences.Count} divergences");
        if (r.FirstDivergence is { } first)
        {
            o.WriteLine($"  first divergence at sequence {first.SequenceNr}: {ReplayJson.Id(first.Lifecycle)} {first.Operation}: " +
                        $"recorded {first.Expected}, re-run {first.Actual}");
            foreach (var d in r.Divergences.Skip(1))
                o.WriteLine($"  sequence {d.SequenceNr}: {ReplayJson.Id(d.Lifecycle)} {d.Operation}: recorded {d.Expected}, re-run {d.Actual}");
        }
        if (r.Notes.Count > 0)
        {
            o.WriteLine($"Notes ({r.Notes.Count}, informational, not divergences):");
            foreach (var n in r.Notes)
                o.WriteLine($"  sequence {n.SequenceNr}: {ReplayJson.Id(n.Lifecycle)} {n.Operation}: recorded {n.Expected}, re-run {n.Actual}");
        }
        foreach (var v in r.Violations) o.WriteLine($"  simulator invariant violated: {v}");
        var l = r.Ledger;
        o.WriteLine($"Ledger at the end: maps {l.Maps}, mapped grants {l.MappedGrants}, granted refs {l.GrantedRefs}, dma-bufs {l.DmaBufs}, " +
                    $"attachments {l.Attachments}, open fds {l.OpenFds}, exports {l.Exports}, imports {l.Imports}, " +
                    $"reservation {l.ReservationPages} pages{(l.ReservationByDomain.Length > 0 ? $" ({l.ReservationByDomain})" : "")}, deferred refs {l.DeferredRefs}");
    }

    private static void WriteTable(TextWriter o, JournalTimeline t, string where)
    {
        var inv = CultureInfo.InvariantCulture;
        o.WriteLine($"Journal {where}: {t.EventCount} events" +
                    (t.FirstSequenceNr is { } f ? $" (sequence {f}..{t.LastSequenceNr})" : "") +
                    $", {t.Lifecycles.Count} lifecycles" +
                    (t.Start is { } s && t.End is { } e ? string.Create(inv, $", {s:yyyy-MM-dd HH:mm:ss.fff zzz} over {Duration(e - s)}") : ""));
        o.WriteLine();
        if (t.Lifecycles.Count > 0)
        {
            int idWidth = Math.Max("lifecycle".Length, t.Lifecycles.Max(l => l.Id.ToString().Length));
            int stateWidth = Math.Max("state".Length, t.Lifecycles.Max(l => l.State.Name.Length));
            o.WriteLine($"  {"lifecycle".PadRight(idWidth)}  {"kind",-6}  {"domain",6}  {"state".PadRight(stateWidth)}  {"events",6}  {"duration",10}");
            foreach (var l in t.Lifecycles)
                o.WriteLine($"  {l.Id.ToString().PadRight(idWidth)}  {l.Kind.Name,-6}  {l.Domain.Value,6}  " +
                            $"{l.State.Name.PadRight(stateWidth)}  {l.Events.Count,6}  {Duration(l.Duration),10}{(l.IsFinished ? "" : "  live")}");
            o.WriteLine();
        }

        if (t.Anomalies.Count == 0) o.WriteLine("Anomalies: none");
        else
        {
            o.WriteLine($"Anomalies ({t.Anomalies.Count}):");
            int kindWidth = t.Anomalies.Max(a => a.Kind.ToString().Length);
            foreach (var a in t.Anomalies) o.WriteLine($"  {a.Kind.ToString().PadRight(kindWidth)}  {a.Message}");
        }
        o.WriteLine();
        var byKind = t.Lifecycles.GroupBy(l => l.Kind).OrderBy(g => g.Key).Select(g => $"{g.Count()} {g.Key.ToString().ToLowerInvariant()}");
        o.WriteLine($"Totals: {t.Lifecycles.Count} lifecycles ({(t.Lifecycles.Count == 0 ? "none" : string.Join(", ", byKind))}), " +
                    $"{t.Lifecycles.Count - t.Live.Count} finished, {t.Live.Count} live, {t.Anomalies.Count} anomalies");
    }

    private static string Duration(TimeSpan d) => d.TotalMilliseconds >= 2000
        ? string.Create(CultureInfo.InvariantCulture, $"{d.TotalSeconds:F2} s")
        : string.Create(CultureInfo.InvariantCulture, $"{d.TotalMilliseconds:F1} ms");
}
