using BufferActors.Actors.Hosting;
using BufferActors.Native;
using BufferActors.Native.Simulation;
using BufferActors.Native.Simulation.Remote;
using Microsoft.Extensions.DependencyInjection;

namespace BufferActors.Tests.Actors;

/// <summary><see cref="GrantDeviceKind.Remote"/>: a simulator in its own process, reached by its socket.</summary>
public sealed class RemoteHostingOptionsTests
{
    [Fact]
    public void RemoteDeviceAndSocketAreReadFromConfiguration()
    {
        var config = new Dictionary<string, string?> { ["Device"] = "remote", ["SimulatorSocket"] = "/run/xensim.sock" };
        var options = BufferActorsOptions.FromConfiguration(k => config.GetValueOrDefault(k));
        Assert.Equal(GrantDeviceKind.Remote, options.Device);
        Assert.Equal("/run/xensim.sock", options.SimulatorSocket);
        Assert.Null(BufferActorsOptions.FromConfiguration(_ => null).SimulatorSocket);
    }

    [Fact]
    public void RemoteWithoutASocketNamesTheKey()
    {
        var e = Assert.Throws<ArgumentException>(() => BufferActorsOptions.FromConfiguration(k => k == "Device" ? "remote" : null));
        Assert.Contains("SimulatorSocket", e.Message);
    }

    [Fact]
    public void AddBufferActorsConnectsToTheServedSimulator()
    {
        using var sim = new XenSimulator(new SimulatorOptions { Seed = 5 });
        string socket = Path.Combine(Path.GetTempPath(), $"ba-ho-{Guid.NewGuid():N}"[..18] + ".sock");
        using var server = new SimulatorServer(sim, socket);
        server.Start();
        var services = new ServiceCollection()
            .AddBufferActors(new BufferActorsOptions { Device = GrantDeviceKind.Remote, SimulatorSocket = socket, Journal = null });
        using (var provider = services.BuildServiceProvider())
        {
            var device = Assert.IsType<RemoteGrantDevice>(provider.GetRequiredService<IGrantDevice>());
            Assert.Equal(socket, device.SocketPath);
            Assert.Equal(1, server.ConnectionCount);
        }
        Assert.True(server.WaitForClosedConnections(1, TimeSpan.FromSeconds(5)), "disposing the host did not end its connection");
    }

    [Fact]
    public void RemoteWithoutASocketFailsWhenTheDeviceIsOpened()
    {
        using var provider = new ServiceCollection()
            .AddBufferActors(new BufferActorsOptions { Device = GrantDeviceKind.Remote, Journal = null })
            .BuildServiceProvider();
        var e = Assert.Throws<InvalidOperationException>(() => provider.GetRequiredService<IGrantDevice>());
        Assert.Contains("SimulatorSocket", e.Message);
    }
}
