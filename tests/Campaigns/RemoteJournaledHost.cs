using Akka.Event;
using Akka.Hosting;
using BufferActors.Actors.Hosting;
using BufferActors.Actors.Persistence;
using BufferActors.Native.Simulation.Remote;
using Microsoft.Extensions.Hosting;

namespace BufferActors.Campaigns;

/// <summary>A BufferActors host on a simulator served in another process, journaling to <c>journal</c>: what the kill tests and the crash campaign run and kill.</summary>
internal static class RemoteJournaledHost
{
    /// <summary>Builds (does not start) the host; Akka logs at <paramref name="logLevel"/> and above; a SQLite journal with <paramref name="durability"/>.</summary>
    public static IHost Build(string socket, string journal, LogLevel logLevel, JournalDurability durability = JournalDurability.Process)
    {
        var storage = JournalStorage.Parse(journal);
        var options = new BufferActorsOptions
        {
            // The connection is this host's gntdev instance: when the process dies, the simulator closes it as the kernel would.
            DeviceFactory = _ => RemoteGrantDevice.Connect(socket),
            Journal = storage is JournalStorage.Sqlite sqlite ? sqlite with { Durability = durability } : storage,
        };
        return new HostBuilder()
            .ConfigureServices(s => s.AddBufferActors(options, akka => akka.ConfigureLoggers(l => l.LogLevel = logLevel)))
            .Build();
    }
}
