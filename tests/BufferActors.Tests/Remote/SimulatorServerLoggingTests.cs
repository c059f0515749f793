using BufferActors.Native.Linux;
using BufferActors.Native.Simulation;
using BufferActors.Native.Simulation.Remote;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;

namespace BufferActors.Tests.Remote;

/// <summary>
/// Every connection the simulator server drops is logged at warning level with the peer's pid, uid and gid
/// (SO_PEERCRED) and the reason; a client that closes between frames is not a drop.
/// </summary>
public sealed class SimulatorServerLoggingTests : IDisposable
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(5);
    private readonly XenSimulator _sim = new(new SimulatorOptions { Seed = 3 });
    private readonly FakeLogger _log = new();
    private readonly SimulatorServer _server;
    private readonly string _path = Path.Combine(Path.GetTempPath(), $"ba-log-{Guid.NewGuid():N}"[..20] + ".sock");

    public SimulatorServerLoggingTests()
    {
        _server = new SimulatorServer(_sim, _path, _log);
        _server.Start();
    }

    /// <summary>Who this test process is, as the server sees it across the socket.</summary>
    private static string Me => $"pid {Environment.ProcessId}, uid {Tmds.Linux.LibC.getuid()}, gid {Tmds.Linux.LibC.getgid()}";

    [Fact]
    public void AFrameTooShortToSplit_IsLoggedAsADrop_WithThePeersCredentials()
    {
        int fd = UnixSocketInterop.Connect(_path);
        try
        {
            UnixSocketInterop.Send(fd, [2, 0, 0, 0], []); // a length shorter than any request header
            Assert.True(_server.WaitForClosedConnections(1, Bound));
        }
        finally
        {
            UnixSocketInterop.Close(fd);
        }
        var drop = Assert.Single(Warnings());
        Assert.Contains(Me, drop.Message);
        Assert.Contains("frame length 2 is shorter than", drop.Message);
    }

    [Fact]
    public void APeerThatHangsUpInsideAFrame_IsLoggedAsADrop()
    {
        int fd = UnixSocketInterop.Connect(_path);
        UnixSocketInterop.Send(fd, [64, 0, 0, 0, 1, 2, 3], []); // promises 64 bytes, sends 3
        UnixSocketInterop.Close(fd);
        Assert.True(_server.WaitForClosedConnections(1, Bound));
        var drop = Assert.Single(Warnings());
        Assert.Contains(Me, drop.Message);
        Assert.Contains("closed the connection 3 bytes into a 64-byte read", drop.Message);
    }

    [Fact]
    public void AClientThatClosesBetweenFrames_IsNotADrop()
    {
        using (RemoteGrantDevice.Connect(_path)) { }
        Assert.True(_server.WaitForClosedConnections(1, Bound));
        Assert.Empty(Warnings());
        Assert.Contains(_log.Collector.GetSnapshot(), r => r.Level == LogLevel.Debug && r.Message.Contains("closed by the client"));
    }

    [Fact]
    public void AServerThatStopsWithAClientConnected_LogsTheDrop()
    {
        using var client = RemoteGrantDevice.Connect(_path);
        _server.Dispose();
        var drop = Assert.Single(Warnings());
        Assert.Contains(Me, drop.Message);
        Assert.Contains("the server is stopping", drop.Message);
    }

    private List<FakeLogRecord> Warnings() => [.. _log.Collector.GetSnapshot().Where(r => r.Level == LogLevel.Warning)];

    public void Dispose()
    {
        _server.Dispose();
        Assert.Empty(_sim.Violations);
        _sim.Dispose();
    }
}
