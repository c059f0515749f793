using BufferActors.Actors.Hosting;
using BufferActors.Native;
using BufferActors.Native.Simulation;
using BufferActors.Native.Simulation.Remote;
using Microsoft.Extensions.DependencyInjection;

namespace BufferActors.Tests.Actors;

/// <summary>
/// <see cref="BufferActorsOptions.DeviceFactory"/>: the product opens the Linux gntdev unless the host hands it
/// another device (a simulator, in its process or served in another), which it opens once and closes with the host.
/// </summary>
public sealed class DeviceFactoryHostingTests
{
    [Fact]
    public void AddBufferActorsDrivesTheFactorysDevice_ASimulatorServedInAnotherProcess()
    {
        using var sim = new XenSimulator(new SimulatorOptions { Seed = 5 });
        string socket = Path.Combine(Path.GetTempPath(), $"ba-ho-{Guid.NewGuid():N}"[..18] + ".sock");
        using var server = new SimulatorServer(sim, socket);
        server.Start();
        int opened = 0;
        var services = new ServiceCollection().AddBufferActors(new BufferActorsOptions
        {
            DeviceFactory = _ => { opened++; return RemoteGrantDevice.Connect(socket); },
            Journal = null,
        });
        using (var provider = services.BuildServiceProvider())
        {
            var device = Assert.IsType<RemoteGrantDevice>(provider.GetRequiredService<IGrantDevice>());
            Assert.Same(device, provider.GetRequiredService<IGrantDevice>());
            Assert.Equal(socket, device.SocketPath);
            Assert.Equal(1, opened);
            Assert.Equal(1, server.ConnectionCount);
        }
        Assert.True(server.WaitForClosedConnections(1, TimeSpan.FromSeconds(5)), "disposing the host did not end its connection");
    }

    [Fact]
    public void WithoutAFactory_TheLinuxGntdevAtDevicePathIsOpened_AndItsAbsenceIsTheKernelsErrno()
    {
        string path = Path.Combine(Path.GetTempPath(), $"ba-no-gntdev-{Guid.NewGuid():N}");
        using var provider = new ServiceCollection()
            .AddBufferActors(new BufferActorsOptions { DevicePath = path, Journal = null })
            .BuildServiceProvider();
        var e = Assert.Throws<GrantDeviceUnavailableException>(() => provider.GetRequiredService<IGrantDevice>());
        Assert.Equal(Errno.ENOENT, e.Errno);
        Assert.Contains(path, e.Message);
    }
}
