using BufferActors.Native;
using BufferActors.Native.Linux;
using BufferActors.Native.Simulation.Remote;

namespace BufferActors.Tests.Remote;

/// <summary>The server's socket file: taken over only when stale, never someone else's, removed on Dispose.</summary>
public sealed class SimulatorServerTests : RemoteSimulatorTest
{
    [Fact]
    public void ASecondServerOnALivePathIsRefused()
    {
        using var second = new SimulatorServer(Sim, SocketPath);
        var e = Assert.Throws<UnixSocketException>(second.Start);
        Assert.Contains("already serving", e.Detail);
        using (Connect()) { } // the first one still serves
        AssertLedgerAtBaseline();
    }

    [Fact]
    public void AStaleSocketFileIsReplaced_AndDisposeRemovesIt()
    {
        string path = SocketPath + ".stale";
        // What a crashed server leaves: the socket file, with nobody listening (a managed Socket would unlink it on Dispose).
        UnixSocketInterop.Close(UnixSocketInterop.Listen(path, backlog: 1));
        Assert.True(File.Exists(path));
        Assert.Throws<GrantDeviceUnavailableException>(() => RemoteGrantDevice.Connect(path));

        var server = new SimulatorServer(Sim, path);
        server.Start();
        using (RemoteGrantDevice.Connect(path)) { }
        server.Dispose();
        Assert.False(File.Exists(path));
        AssertLedgerAtBaseline();
    }

    [Fact]
    public void APathThatIsNotASocketIsNeverReplaced()
    {
        string path = SocketPath + ".txt";
        File.WriteAllText(path, "not a socket");
        try
        {
            using var server = new SimulatorServer(Sim, path);
            var e = Assert.Throws<UnixSocketException>(server.Start);
            Assert.Contains("is not a socket", e.Detail);
            Assert.Equal("not a socket", File.ReadAllText(path));
        }
        finally
        {
            File.Delete(path);
        }
        AssertLedgerAtBaseline();
    }
}
