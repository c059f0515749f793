using Akka.Configuration;
using Akka.Persistence;
using Akka.Persistence.Snapshot;
using BufferActors.Actors;
using BufferActors.Actors.Api;
using BufferActors.Actors.Persistence;
using BufferActors.Native;
using BufferActors.Native.Simulation;

namespace BufferActors.Tests.Journaled;

/// <summary>
/// A journal whose first recovery fails is started again by its supervisor; the manager, which stashes
/// requests until the journal tells it what is live, must not wait for an answer the stopped incarnation
/// took with it.
/// </summary>
public sealed class JournalRecoveryRetryTests
{
    private static readonly DomainId Dom1 = new(1);

    /// <summary>The first snapshot load never answers: a database not reachable yet, or a machine too slow for the recovery time-out.</summary>
    public sealed class FirstLoadHangsSnapshotStore : MemorySnapshotStore
    {
        private int _loads;

        /// <inheritdoc />
        protected override Task<SelectedSnapshot> LoadAsync(string persistenceId, SnapshotSelectionCriteria criteria, CancellationToken cancellationToken) =>
            Interlocked.Increment(ref _loads) == 1
                ? new TaskCompletionSource<SelectedSnapshot>().Task
                : base.LoadAsync(persistenceId, criteria, cancellationToken);
    }

    private static Config FirstRecoveryTimesOut => ConfigurationFactory.ParseString($$"""
        akka.persistence.journal.inmem.recovery-event-timeout = 300ms
        akka.persistence.snapshot-store.plugin = "akka.persistence.snapshot-store.first-load-hangs"
        akka.persistence.snapshot-store.first-load-hangs.class = "{{typeof(FirstLoadHangsSnapshotStore).AssemblyQualifiedName}}"
        """).WithFallback(new JournalStorage.InMemory().ToConfig());

    [Fact]
    public async Task AJournalWhoseFirstRecoveryTimesOut_IsAskedAgain_AndTheRequestsStashedMeanwhileAreServed()
    {
        var sim = new XenSimulator(new SimulatorOptions { Seed = 3 });
        var baseline = sim.Ledger();
        var frontend = sim.CreateDomain(1);
        var refs = frontend.GrantPages(DomainId.Dom0, frontend.AllocatePages(2), 2);
        using (var gntdev = sim.OpenGrantDevice())
        await using (var host = new JournaledHost(new DeviceSession(gntdev), FirstRecoveryTimesOut))
        {
            // Sent at once: the manager is still waiting for the journal's first answer.
            var export = await host.Client.ExportAsync(Dom1, refs);
            Assert.Equal(export.Id, Assert.Single((await host.LiveAsync()).Lifecycles).Id);
            await host.Client.ReleaseAsync(export.Id);
            Assert.NotEqual(WaitReleasedResult.TimedOut, await host.Client.WaitReleasedAsync(export.Id, TimeSpan.FromSeconds(5)));
            Assert.Empty((await host.LiveAsync()).Lifecycles);
        }
        foreach (var r in refs) Assert.True(frontend.EndAccess(r));
        sim.Tick();
        Assert.Empty(sim.Violations);
        Assert.Empty(sim.Ledger().DifferencesFrom(baseline));
    }
}
