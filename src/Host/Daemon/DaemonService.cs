using BufferActors.Actors.Api;
using BufferActors.Host.Daemon.Protocol;
using BufferActors.Native;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace BufferActors.Host.Daemon;

/// <summary>
/// The daemon as a hosted service, started after the actor system: its socket is bound when the host reports itself
/// started (systemd's READY=1 under <c>Type=notify</c>), and on stop it tells every client, ends what they owned
/// within the grace period, and only then lets the actor system stop (which drains the journal).
/// </summary>
internal sealed class DaemonService(ServeSettings settings, IServiceProvider services, ILogger<DaemonService> log) : IHostedService
{
    private DaemonServer? _server;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        // Resolved here, not in the constructor: the client exists once the actor system has started, and the host
        // builds every hosted service before it starts the first.
        var client = services.GetRequiredService<BufferActorsClient>();
        var device = services.GetRequiredService<IGrantDevice>();
        _server = new DaemonServer(settings.Socket, settings.Mode, client, device, settings.Device, settings.Policy, log, settings.Group) { Journaled = settings.Journaled, SimulatorLedger = settings.SimulatorLedger };
        log.LogInformation("serving {Socket} (mode {Mode}) on the {Device} device", settings.Socket, Convert.ToString(settings.Mode, 8), settings.Device);
        settings.Announce?.Invoke(_server);
        return Task.CompletedTask;
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_server is not { } server) return;
        try
        {
            await server.StopAsync(settings.Grace).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            log.LogWarning("clients' lifecycles still ending after {Grace}: the journal keeps them for the next start", settings.Grace);
        }
        server.Dispose();
    }
}

/// <summary>What <c>serve</c> was told.</summary>
/// <param name="Socket">The socket's path.</param>
/// <param name="Mode">The socket file's permission bits.</param>
/// <param name="Device">The device served.</param>
/// <param name="Policy">Who may do what.</param>
/// <param name="Grace">How long a stop waits for clients' lifecycles to end.</param>
/// <param name="Journaled">Whether lifecycles are journaled.</param>
/// <param name="Announce">Called once the socket is bound (the command prints its ready line).</param>
/// <param name="SimulatorLedger">With a simulated device: its ledger, for the status.</param>
internal sealed record ServeSettings(string Socket, int Mode, WireDevice Device, DaemonPolicy Policy, TimeSpan Grace, bool Journaled,
    Action<DaemonServer>? Announce = null, Func<Native.Simulation.SimulatorLedger>? SimulatorLedger = null)
{
    /// <summary>The socket file's group id (null: the daemon's group).</summary>
    public int? Group { get; init; }
}
