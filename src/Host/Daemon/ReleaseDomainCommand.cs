using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using BufferActors.Host.Daemon.Protocol;

namespace BufferActors.Host.Daemon;

/// <summary>
/// <c>bufferactors release-domain --socket PATH DOMID [--json]</c>: the operator tells a running daemon that frontend
/// <c>DOMID</c> was destroyed (<c>RELEASE_DOMAIN</c>). Its lifecycles end as for a dead frontend, and its accounting is
/// released: a new domain given the id is served with empty quotas instead of refused, and what a device still holds of
/// the destroyed one stays tracked (and in <c>status</c>) until it lets go. Exit 0 when released, 1 when the daemon
/// refused the id, 2 when the daemon cannot be reached or does not let this uid release domains.
/// </summary>
internal static class ReleaseDomainCommand
{
    public static Command Create()
    {
        var socket = new Option<string>("--socket") { Required = true, Description = "The socket of the daemon (serve --socket)." };
        var domid = new Argument<ushort>("domid") { Description = "The id of the destroyed frontend domain." };
        var json = new Option<bool>("--json") { Description = "Print the answer as one JSON object." };
        var command = new Command("release-domain", "Tell a running 'bufferactors serve' that a frontend domain was destroyed: end what it owns and release its accounting.")
        {
            domid, socket, json,
        };
        command.SetAction(r =>
        {
            string path = r.GetRequiredValue(socket);
            ushort id = r.GetValue(domid);
            int exit = OperatorRequest.Run("release-domain", path, WireCapabilities.ReleaseDomain, $"release domains of the daemon at {path} (serve --operator)",
                client => client.ReleaseDomain(id), out var released, refused: e => (1, $"domain {id}: {e.Message}"));
            if (exit != 0) return exit;
            Console.Out.WriteLine(r.GetValue(json)
                ? JsonSerializer.Serialize(new { domid = released.Domid, wasDead = released.WasDead, lifecycles = released.Lifecycles, pages = released.Pages })
                : Sentence(released));
            return 0;
        });
        return command;
    }

    private static string Sentence(DomainReleasedReply released)
    {
        var c = CultureInfo.InvariantCulture;
        string how = released.WasDead ? "it was known dead" : "its lifecycles are ended now";
        string left = released.Lifecycles == 0
            ? "nothing of it is still live"
            : string.Create(c, $"{released.Lifecycles} lifecycle(s) of {released.Pages} page(s) still held, tracked until they end");
        return string.Create(c, $"domain {released.Domid} released ({how}); {left}");
    }
}
