using BufferActors.Native;
using BufferActors.Native.Simulation;

namespace BufferActors.Tests.Simulation;

/// <summary>
/// Base of simulator tests: one simulator, one frontend domain (d1), one backend process with a
/// gntdev instance, and the ledger taken before anything was created.
/// </summary>
public abstract class SimulatorTest : IDisposable
{
    protected static readonly DomainId Dom1 = new(1);
    private readonly FrontendGrants _grants;

    protected SimulatorTest(SimulatorOptions? options = null)
    {
        Sim = new XenSimulator(options ?? new SimulatorOptions { Seed = 42 });
        Baseline = Sim.Ledger();
        Frontend = Sim.CreateDomain(1);
        Process = Sim.StartProcess("backend");
        Gntdev = Sim.OpenGrantDevice(Process);
        Display = Sim.AddDevice("display");
        _grants = new FrontendGrants(Frontend);
    }

    protected XenSimulator Sim { get; }
    protected SimulatorLedger Baseline { get; }
    protected SimulatedDomain Frontend { get; }
    protected SimulatedProcess Process { get; }
    protected SimulatedGrantDevice Gntdev { get; }
    protected SimulatedDevice Display { get; }

    /// <summary>The frontend allocates <paramref name="pages"/> pages and grants them to dom0.</summary>
    protected uint[] Share(int pages, bool readOnly = false, SimulatedDomain? from = null) => _grants.Share(pages, readOnly, from);

    /// <summary>The frontend revokes one of its grants before the backend maps it.</summary>
    protected void Revoke(uint gref, SimulatedDomain? from = null) => _grants.Revoke(gref, from);

    /// <summary>
    /// Ends with the ledger at baseline: the frontend ends every grant it made (which only succeeds
    /// if the backend really unmapped it), the gntdev instance is closed, and every counter of the
    /// ledger is back where it started.
    /// </summary>
    protected void AssertLedgerAtBaseline()
    {
        _grants.EndAll();
        Gntdev.Dispose();
        Assert.Empty(Sim.Violations);
        Assert.Empty(Sim.Ledger().DifferencesFrom(Baseline));
    }

    /// <summary>Waits (bounded) until <paramref name="count"/> callers are blocked in WAIT_RELEASED.</summary>
    protected async Task WaitersBlocked(int count)
    {
        await Sim.Gate.When(() => Gntdev.BlockedWaiters >= count, TimeSpan.FromSeconds(5));
        Assert.Equal(count, Gntdev.BlockedWaiters);
    }

    protected static GntdevException Fails(Errno errno, Action action)
    {
        var e = Assert.Throws<GntdevException>(action);
        Assert.Equal(errno, e.Errno);
        return e;
    }

    public void Dispose()
    {
        Sim.Dispose();
        GC.SuppressFinalize(this);
    }
}
