using Akka.Actor;
using Akka.Configuration;
using BufferActors.Actors;
using BufferActors.Actors.Api;
using BufferActors.Actors.Lifecycles;
using BufferActors.Actors.Persistence;
using BufferActors.Actors.Supervision;

using BufferActors.Tests.Fixtures;

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

    /// <summary>Completes when an event matching <paramref name="match"/> is durable; call it before the step that writes it.</summary>
    public async Task<LifecycleEvent> WrittenAsync(Func<LifecycleEvent, bool> match)
    {
        var written = await EventStreamSignal.Next<LifecycleJournal.Written>(System, w => w.Events.Any(match), TimeSpan.FromSeconds(10));
        return written.Events.First(match);
    }

    /// <summary>
    /// Completes once a journal incarnation takes records: the one running now (it answers once recovered), or, if it
    /// stopped after a storage failure, the one its back-off supervisor starts next.
    /// </summary>
    public async Task JournalUpAsync()
    {
        var recovered = EventStreamSignal.Next<LifecycleJournal.Recovered>(System, _ => true, TimeSpan.FromSeconds(10));
        var child = await Journal.Ask<Akka.Pattern.BackoffSupervisor.CurrentChild>(Akka.Pattern.BackoffSupervisor.GetCurrentChild.Instance, TimeSpan.FromSeconds(10));
        if (child.Ref is { } current && !current.IsNobody())
        {
            // A child that is stopping never answers: the next incarnation's recovery does.
            await Task.WhenAny(recovered, current.Ask<LifecycleJournal.Live>(new LifecycleJournal.GetLive(), TimeSpan.FromSeconds(10)));
            return;
        }
        await recovered;
    }

    public async ValueTask DisposeAsync() => await System.Terminate();
}
