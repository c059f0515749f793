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
    private readonly FrontendGrants _grants;

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
        Client = new BufferActorsClient(Sys, Manager, TimeSpan.FromSeconds(5));
        _grants = new FrontendGrants(Frontend);
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

    protected uint[] Share(int pages, SimulatedDomain? from = null) => _grants.Share(pages, from: from);

    protected void Revoke(uint gref) => _grants.Revoke(gref);

    /// <summary>Waits until the manager reports no live lifecycle.</summary>
    protected async Task AwaitNoLiveLifecycles()
    {
        await AwaitAssertAsync(async () => Assert.Equal(0, (await Client.SnapshotAsync()).LiveLifecycles), TimeSpan.FromSeconds(5));
    }

    /// <summary>Frontend grants end (only possible if unmapped), the instance closes, every ledger counter is back.</summary>
    protected void AssertLedgerAtBaseline()
    {
        Sim.Tick();
        _grants.EndAll();
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
