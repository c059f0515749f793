using Akka.Actor;
using Akka.Configuration;
using BufferActors.Actors;
using BufferActors.Actors.Api;
using BufferActors.Actors.Lifecycles;
using BufferActors.Actors.Persistence;
using BufferActors.Actors.Supervision;

namespace BufferActors.Tests.Journaled;

/// <summary>One BufferActors host (actor system, journal, manager, client) on a given device session and journal config.</summary>
internal sealed class JournaledHost : IAsyncDisposable
{
    public JournaledHost(DeviceSession session, Config journalConfig, TimeSpan? journalTimeout = null, LifecycleJournal.Settings? journalSettings = null,
        BufferManager.Settings? settings = null)
    {
        var config = ConfigurationFactory.ParseString("akka.loglevel = WARNING\nakka.stdout-loglevel = WARNING").WithFallback(journalConfig);
        System = ActorSystem.Create("host-" + Guid.NewGuid().ToString("N")[..8], config);
        Journal = System.ActorOf(LifecycleJournal.SupervisedProps(journalSettings), "journal");
        var services = new LifecycleServices(session, Journal, TimeProvider.System, journalTimeout ?? TimeSpan.FromSeconds(5));
        Manager = System.ActorOf(BufferManager.Props(services, settings), "buffers");
        Client = new BufferActorsClient(System, Manager, TimeSpan.FromSeconds(10));
    }

    public ActorSystem System { get; }
    public IActorRef Journal { get; }
    public IActorRef Manager { get; }
    public BufferActorsClient Client { get; }

    public Task<LifecycleJournal.Live> LiveAsync() => Journal.Ask<LifecycleJournal.Live>(new LifecycleJournal.GetLive(), TimeSpan.FromSeconds(10));

    public Task<BufferManager.RecoveryReport> RecoveryAsync() =>
        Manager.Ask<BufferManager.RecoveryReport>(new BufferManager.GetRecoveryReport(), TimeSpan.FromSeconds(10));

    public async ValueTask DisposeAsync() => await System.Terminate();
}
