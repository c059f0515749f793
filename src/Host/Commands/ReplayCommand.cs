using System.CommandLine;
using System.Globalization;
using System.Text;
using BufferActors.Actors.Persistence;
using BufferActors.Actors.Persistence.Replay;

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

    public static Command Create()
    {
        var journal = new Option<string>("--journal")
        {
            Description = "The journal to read: a SQLite file (as written by 'demo --journal'), or a PostgreSQL connection string (contains Host=).",
            Required = true,
        };
        var json = new Option<bool>("--json") { Description = "Print one JSON object on stdout (lifecycles, live, anomalies, totals) instead of the table." };
        var html = new Option<string?>("--html") { Description = "Also write a self-contained HTML timeline (one row per lifecycle) to this file.", HelpName = "out.html" };
        var command = new Command("replay",
            "Rebuild every lifecycle's timeline from the journal and report anomalies: lifecycles never finished, " +
            "unmap before detach, waits never answered, reservation not restored, refs never ended. " +
            "Exit code 0 when the journal was read, even if it shows anomalies; 2 when the journal is unreadable " +
            "(missing, empty, not SQLite, truncated, corrupt, no journal table, an unreadable event), with the reason on stderr; " +
            "1 on bad arguments or when the --html file cannot be written.");
        command.Options.Add(journal);
        command.Options.Add(json);
        command.Options.Add(html);
        command.SetAction((result, ct) => ReplayAsync(result.GetValue(journal)!, result.GetValue(json), result.GetValue(html),
            result.InvocationConfiguration.Output, result.InvocationConfiguration.Error, ct));
        return command;
    }

    /// <summary>Parses <paramref name="args"/> (what follows <c>replay</c> on the command line) and runs it, writing to the given writers.</summary>
    internal static Task<int> RunAsync(IReadOnlyList<string> args, TextWriter output, TextWriter error, CancellationToken cancellationToken = default)
    {
        var root = new RootCommand("bufferactors") { Create() };
        return root.Parse(["replay", .. args]).InvokeAsync(new InvocationConfiguration { Output = output, Error = error }, cancellationToken);
    }

    /// <summary>Reads the journal at <paramref name="location"/> and reports; never throws for an unreadable journal.</summary>
    internal static async Task<int> ReplayAsync(string location, bool json, string? htmlPath, TextWriter output, TextWriter error, CancellationToken cancellationToken)
    {
        if (string.IsNullOrWhiteSpace(location))
        {
            await error.WriteLineAsync("replay: --journal needs a SQLite path or a PostgreSQL connection string").ConfigureAwait(false);
            return Failed;
        }
        var storage = JournalStorage.Parse(location);
        string where = JournalReader.Describe(storage);
        JournalTimeline timeline;
        try
        {
            timeline = await JournalReader.ReadTimelineAsync(storage, cancellationToken).ConfigureAwait(false);
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
            await output.WriteLineAsync(ReplayJson.ToJson(timeline, where, indented: true)).ConfigureAwait(false);
            // stdout holds exactly the one JSON object; anything for people goes to stderr.
            if (htmlPath is not null) await error.WriteLineAsync($"replay: timeline written to {Path.GetFullPath(htmlPath)}").ConfigureAwait(false);
            return Ok;
        }

        WriteTable(output, timeline, where);
        if (htmlPath is not null) await output.WriteLineAsync($"Timeline written to {Path.GetFullPath(htmlPath)}").ConfigureAwait(false);
        return Ok;
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
            int stateWidth = Math.Max("state".Length, t.Lifecycles.Max(l => l.State.Length));
            o.WriteLine($"  {"lifecycle".PadRight(idWidth)}  {"kind",-6}  {"domain",6}  {"state".PadRight(stateWidth)}  {"events",6}  {"duration",10}");
            foreach (var l in t.Lifecycles)
                o.WriteLine($"  {l.Id.ToString().PadRight(idWidth)}  {l.Kind.ToString().ToLowerInvariant(),-6}  {l.Domain.Value,6}  " +
                            $"{l.State.PadRight(stateWidth)}  {l.Events.Count,6}  {Duration(l.Duration),10}{(l.IsFinished ? "" : "  live")}");
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
