using System.CommandLine;
using System.Globalization;
using BufferActors.Host.Daemon.Protocol;

namespace BufferActors.Host.Daemon;

/// <summary>
/// <c>bufferactors status --socket PATH [--json]</c>: asks a running daemon for its counts (<c>DAEMON_STATUS</c>) —
/// live lifecycles per frontend domain and kind, pages, deferred grants, quarantined exports, clients, journal lag.
/// Exit 0 with the report, 2 when the daemon cannot be reached or does not let this uid read its status.
/// </summary>
internal static class StatusCommand
{
    public static Command Create()
    {
        var socket = new Option<string>("--socket") { Required = true, Description = "The socket of the daemon (serve --socket)." };
        var json = new Option<bool>("--json") { Description = "Print the report as one JSON object." };
        var command = new Command("status", "Show what a running 'bufferactors serve' holds.") { socket, json };
        command.SetAction(r =>
        {
            string path = r.GetRequiredValue(socket);
            int exit = OperatorRequest.Run("status", path, WireCapabilities.DaemonStatus, $"read the status of the daemon at {path}",
                client => client.DaemonStatus(), out var status);
            if (exit != 0) return exit;
            Console.Out.WriteLine(r.GetValue(json) ? status.ToJson(indented: true) : Table(status));
            return 0;
        });
        return command;
    }

    private static string Table(DaemonStatus s)
    {
        var c = CultureInfo.InvariantCulture;
        var lines = new List<string>
        {
            string.Create(c, $"device {s.Device}; {s.Clients} client(s) owning {s.ClientLifecycles} lifecycle(s)"),
            string.Create(c, $"live lifecycles {s.Live}, pages {s.Pages}, reservation lowered by {s.ReservationPages} page(s), quarantined {s.Quarantined}, deferred imports {s.Deferred.Count}"),
            s.JournalLagMs is { } lag ? string.Create(c, $"journal lag {lag:F1} ms") : "no journal",
        };
        if (s.Recovery is { } r)
            lines.Add(string.Create(c, $"recovered at start: {r.EventsRecovered} events, {r.Adopted} adopted, {r.Reclaimed} reclaimed, frontends to tell: {(r.FrontendsToTell.Count == 0 ? "none" : string.Join(",", r.FrontendsToTell))}"));
        if (s.Domains.Count > 0)
        {
            lines.Add("domid  exports  imports  maps  pages  reservation  dead");
            lines.AddRange(s.Domains.Select(d => string.Create(c,
                $"{d.Domid,5}  {d.Exports,7}  {d.Imports,7}  {d.Maps,4}  {d.Pages,5}  {d.ReservationPages,11}  {(d.Released ? "destroyed, released" : d.Dead ? "yes" : "no")}")));
        }
        lines.AddRange(s.Deferred.Select(d => string.Create(c, $"deferred {d.Lifecycle}: {d.Refs} ref(s) for {d.AgeSeconds:F0} s")));
        return string.Join(Environment.NewLine, lines);
    }
}
