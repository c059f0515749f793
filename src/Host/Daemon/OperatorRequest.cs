using BufferActors.Host.Daemon.Protocol;
using BufferActors.Native;

namespace BufferActors.Host.Daemon;

/// <summary>
/// One request of an operator's command (<c>status</c>, <c>release-domain</c>) to a running daemon: connect asking for
/// the capability the request needs, check the daemon granted it to this uid, ask. Failures are written to stderr as
/// <c>VERB: …</c> and turned into the command's exit code: 2 when the daemon cannot be reached, speaks wrongly or does
/// not grant the capability; a refusal of the request itself is the command's to map.
/// </summary>
internal static class OperatorRequest
{
    /// <summary>Runs <paramref name="ask"/> on a connection to <paramref name="path"/>; 0 with its answer in <paramref name="answer"/>, else the exit code.</summary>
    /// <param name="verb">The command, for messages.</param>
    /// <param name="path">The daemon's socket.</param>
    /// <param name="capability">What the request needs the daemon to grant.</param>
    /// <param name="notGranted">Why it matters that the capability is missing, after "uid N may not …".</param>
    /// <param name="ask">The request.</param>
    /// <param name="answer">Its answer when 0 is returned.</param>
    /// <param name="refused">The exit code and message for the daemon's refusal of the request; by default 2 and the daemon's words.</param>
    public static int Run<T>(string verb, string path, WireCapabilities capability, string notGranted, Func<DaemonClient, T> ask, out T answer,
        Func<DaemonRefusedException, (int Exit, string Message)>? refused = null)
    {
        answer = default!;
        try
        {
            using var client = DaemonClient.Connect(path, capability);
            if ((client.Session.Capabilities & capability) == 0)
            {
                Console.Error.WriteLine($"{verb}: uid {client.Session.Uid} may not {notGranted}");
                return 2;
            }
            answer = ask(client);
            return 0;
        }
        catch (DaemonRefusedException e) when (refused is not null)
        {
            var (exit, message) = refused(e);
            Console.Error.WriteLine($"{verb}: {message}");
            return exit;
        }
        catch (Exception e) when (e is UnixSocketException or DaemonClosedException or DaemonRefusedException or ProtocolViolationException)
        {
            Console.Error.WriteLine($"{verb}: {path}: {e.Message}");
            return 2;
        }
    }
}
