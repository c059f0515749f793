using System.Collections.Concurrent;
using BufferActors.Actors.Api;
using BufferActors.Host.Daemon.Protocol;
using BufferActors.Native;
using BufferActors.Native.Linux;
using Microsoft.Extensions.Logging;

namespace BufferActors.Host.Daemon;

/// <summary>
/// The daemon's socket: accepts clients on a <c>SOCK_SEQPACKET</c> socket (docs/protocol.md), refuses uids the
/// policy does not know (logged with the peer's credentials), and runs each client as a <see cref="ClientConnection"/>
/// over the host's <see cref="BufferActorsClient"/>.
/// </summary>
public sealed class DaemonServer : IDisposable
{
    private readonly SeqPacketSocket _listener;
    private readonly BufferActorsClient _client;
    private readonly IGrantDevice _device;
    private readonly WireDevice _deviceKind;
    private readonly DaemonPolicy _policy;
    private readonly ILogger _log;
    private readonly ConcurrentDictionary<ClientConnection, byte> _connections = new();
    private readonly Thread _acceptor;
    private readonly UidQuotas _quotas;
    private readonly IDisposable[] _notices;
    private volatile bool _stopping;

    /// <summary>
    /// Listens at <paramref name="path"/> with file mode <paramref name="mode"/> (e.g. 0660) and group <paramref name="group"/>
    /// (null: the process's) and starts accepting.
    /// </summary>
    /// <exception cref="UnixSocketException">The path is taken by something else or cannot be bound.</exception>
    public DaemonServer(string path, int mode, BufferActorsClient client, IGrantDevice device, WireDevice deviceKind, DaemonPolicy policy, ILogger log, int? group = null)
    {
        _listener = SeqPacketSocket.Listen(path, backlog: 64, mode, group);
        Path = path;
        _client = client;
        _device = device;
        _deviceKind = deviceKind;
        _policy = policy;
        _log = log;
        _quotas = new UidQuotas(policy);
        // Notices come on an actor's thread; telling clients (a send may wait for a slow reader) happens on the pool.
        _notices =
        [
            client.Subscribe<BufferActors.Actors.Supervision.BufferManager.AccessEnded>(Tell),
            client.Subscribe<BufferActors.Actors.Supervision.DomainLifecycles.FrontendDied>(Tell),
            client.Subscribe<BufferActors.Actors.Lifecycles.ExportedBuffer.QuarantineNotice>(Tell),
        ];
        _acceptor = new Thread(AcceptLoop) { IsBackground = true, Name = "bufferactors serve accept" };
        _acceptor.Start();
    }

    /// <summary>The socket's path.</summary>
    public string Path { get; }

    /// <summary>Clients connected now.</summary>
    public int Clients => _connections.Count;

    /// <summary>Lifecycles owned by connected clients now.</summary>
    public int OwnedLifecycles => _connections.Keys.Sum(c => c.Owned);

    private void Tell(object notice) =>
        ThreadPool.QueueUserWorkItem(_ =>
        {
            foreach (var connection in _connections.Keys) connection.Notify(notice);
        });

    private void AcceptLoop()
    {
        while (!_stopping)
        {
            SeqPacketSocket? socket;
            try
            {
                socket = _listener.Accept(TimeSpan.FromMilliseconds(200));
            }
            catch (UnixSocketException e)
            {
                if (_stopping) return;
                // Out of descriptors or memory: back off rather than spin, and keep serving.
                _log.LogWarning("accept failed: {Message}", e.Message);
                Thread.Sleep(100);
                continue;
            }
            catch (ObjectDisposedException)
            {
                return;
            }
            if (socket is null) continue;
            var peer = socket.Peer;
            if (!_policy.MayConnect(peer.Uid))
            {
                _log.LogWarning("refused a client: uid {Uid} gid {Gid} pid {Pid} is not allowed to connect", peer.Uid, peer.Gid, peer.Pid);
                Refuse(socket, $"uid {peer.Uid} may not use this daemon");
                continue;
            }
            var connection = new ClientConnection(socket, _client, _device, _deviceKind, _policy, _log, StatusAsync, _quotas);
            _connections[connection] = 0;
            _ = connection.Ended.ContinueWith(_ => _connections.TryRemove(connection, out byte _), TaskScheduler.Default);
            connection.Start();
        }
    }

    /// <summary>
    /// Says goodbye and shuts the connection, closing it a second later: closed at once with the client's first
    /// frame unread, the kernel would report ECONNRESET to the client before it could read why.
    /// </summary>
    private static void Refuse(SeqPacketSocket socket, string why)
    {
        try
        {
            socket.Send(WireCodec.Encode(0, new Goodbye(GoodbyeReason.ProtocolError, why)), [], dontWait: true);
            socket.Shutdown();
        }
        catch (UnixSocketException)
        {
            // Gone already.
        }
        _ = Task.Delay(TimeSpan.FromSeconds(1)).ContinueWith(_ => socket.Dispose(), TaskScheduler.Default);
    }

    /// <summary>Whether lifecycles are journaled (the status then measures the journal's lag).</summary>
    public bool Journaled { get; init; }

    /// <summary>The daemon's counts now.</summary>
    public Task<DaemonStatus> StatusAsync() => DaemonStatus.CollectAsync(_client, _deviceKind, _connections.Count, OwnedLifecycles, Journaled, SimulatorLedger?.Invoke());

    /// <summary>With a simulated device: its ledger, reported in the status.</summary>
    public Func<Native.Simulation.SimulatorLedger>? SimulatorLedger { get; init; }

    /// <summary>
    /// Stops accepting; each client's requests in flight are answered, it is told the daemon stops, and what it owned
    /// is ended — all within <paramref name="grace"/>.
    /// </summary>
    /// <exception cref="TimeoutException">Lifecycles were still ending when the grace ran out (the journal keeps them).</exception>
    public async Task StopAsync(TimeSpan grace)
    {
        _stopping = true;
        _acceptor.Join(TimeSpan.FromSeconds(2));
        var clients = _connections.Keys.ToList();
        await Task.WhenAll(clients.Select(async c =>
        {
            await c.CloseAsync(grace).ConfigureAwait(false);
            await c.Ended.ConfigureAwait(false);
        })).WaitAsync(grace).ConfigureAwait(false);
    }

    /// <summary>Closes the listening socket and removes its file.</summary>
    public void Dispose()
    {
        _stopping = true;
        foreach (var subscription in _notices) subscription.Dispose();
        _acceptor.Join(TimeSpan.FromSeconds(2));
        _listener.Dispose();
        try
        {
            File.Delete(Path);
        }
        catch (IOException)
        {
            // Another daemon took the path meanwhile: not ours to remove.
        }
    }
}
