using Akka.Actor;
using BufferActors.Actors;
using BufferActors.Actors.Api;
using BufferActors.Actors.Lifecycles;
using BufferActors.Actors.Supervision;
using BufferActors.Native;
using BufferActors.Native.Simulation;

namespace BufferActors.Tests.Actors;

/// <summary>
/// Base of lifecycle-actor tests: a simulator with frontend d1, the backend process and its gntdev
/// instance, the root manager and the embedding client. Every test ends with
/// <see cref="AssertLedgerAtBaseline"/>.
/// </summary>
public abstract class LifecycleTest : Akka.TestKit.Xunit2.TestKit
{
    protected static readonly DomainId Dom1 = new(1);
    private readonly List<(SimulatedDomain Domain, uint Ref)> _grants = [];

    protected LifecycleTest(BufferManager.Settings? settings = null, Action<LifecycleId, string>? checkpoint = null)
    {
        Sim = new XenSimulator(new SimulatorOptions { Seed = 7 });
        Baseline = Sim.Ledger();
        Frontend = Sim.CreateDomain(1);
        Process = Sim.StartProcess("backend");
        Gntdev = Sim.OpenGrantDevice(Process);
        Display = Sim.AddDevice("display");
        Session = new DeviceSession(Gntdev) { HandlerCheckpoint = checkpoint };
        Manager = Sys.ActorOf(BufferManager.Props(Session, settings), "buffers");
        Client = new BufferActorsClient(Manager, TimeSpan.FromSeconds(5));
    }

    protected XenSimulator Sim { get; }
    protected SimulatorLedger Baseline { get; }
    protected SimulatedDomain Frontend { get; }
    protected SimulatedProcess Process { get; }
    protected SimulatedGrantDevice Gntdev { get; }
    protected SimulatedDevice Display { get; }
    protected DeviceSession Session { get; }
    protected IActorRef Manager { get; }
    protected BufferActorsClient Client { get; }

    protected uint[] Share(int pages, SimulatedDomain? from = null)
    {
        from ??= Frontend;
        var refs = from.GrantPages(DomainId.Dom0, from.AllocatePages(pages), pages);
        foreach (var r in refs) _grants.Add((from, r));
        return refs;
    }

    protected void Revoke(uint gref)
    {
        Assert.True(Frontend.EndAccess(gref));
        _grants.Remove((Frontend, gref));
    }

    /// <summary>Waits until the manager reports no live lifecycle.</summary>
    protected async Task AwaitNoLiveLifecycles()
    {
        await AwaitAssertAsync(async () => Assert.Equal(0, (await Client.SnapshotAsync()).LiveLifecycles), TimeSpan.FromSeconds(5));
    }

    /// <summary>Frontend grants end (only possible if unmapped), the instance closes, every ledger counter is back.</summary>
    protected void AssertLedgerAtBaseline()
    {
        Sim.Tick();
        foreach (var (domain, r) in _grants)
            Assert.True(domain.EndAccess(r), $"{domain.Id} ref {r} still mapped by the backend");
        _grants.Clear();
        Gntdev.Dispose();
        Assert.Empty(Sim.Violations);
        Assert.Empty(Sim.Ledger().DifferencesFrom(Baseline));
    }

    protected override void AfterAll()
    {
        base.AfterAll();
        Sim.Dispose();
    }
}
