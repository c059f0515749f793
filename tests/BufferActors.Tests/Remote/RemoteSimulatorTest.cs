using BufferActors.Native;
using BufferActors.Native.Simulation;
using BufferActors.Native.Simulation.Remote;

namespace BufferActors.Tests.Remote;

/// <summary>
/// Base of remote-simulator tests: one simulator with frontend d1, served in-process by a
/// <see cref="SimulatorServer"/> on a fresh socket, and the ledger taken before anything was created.
/// </summary>
public abstract class RemoteSimulatorTest : IDisposable
{
    protected static readonly DomainId Dom1 = new(1);
    protected static readonly TimeSpan Bound = TimeSpan.FromSeconds(5);
    private readonly List<uint> _frontendGrants = [];
    private readonly List<IDisposable> _clients = [];

    protected RemoteSimulatorTest()
    {
        Sim = new XenSimulator(new SimulatorOptions { Seed = 42 });
        Baseline = Sim.Ledger();
        Frontend = Sim.CreateDomain(1);
        // sun_path holds 107 bytes: keep the path short and unique per test.
        SocketPath = Path.Combine(Path.GetTempPath(), $"ba-sim-{Guid.NewGuid():N}"[..20] + ".sock");
        Server = new SimulatorServer(Sim, SocketPath);
        Server.Start();
    }

    protected XenSimulator Sim { get; }
    protected SimulatorLedger Baseline { get; }
    protected SimulatedDomain Frontend { get; }
    protected string SocketPath { get; }
    protected SimulatorServer Server { get; }

    /// <summary>A new client connection (its own simulated process), disposed at the end of the test.</summary>
    protected RemoteGrantDevice Connect()
    {
        var client = RemoteGrantDevice.Connect(SocketPath);
        _clients.Add(client);
        return client;
    }

    /// <summary>The frontend allocates <paramref name="pages"/> pages and grants them to dom0.</summary>
    protected uint[] Share(int pages, bool readOnly = false)
    {
        var refs = Frontend.GrantPages(DomainId.Dom0, Frontend.AllocatePages(pages), pages, readOnly);
        _frontendGrants.AddRange(refs);
        return refs;
    }

    /// <summary>
    /// Ends with the ledger at baseline: every client connection is closed (its process exits), the
    /// frontend ends each grant it made — which only succeeds if the backend really unmapped it — and
    /// every counter is back where it started, with no invariant violated.
    /// </summary>
    protected void AssertLedgerAtBaseline()
    {
        foreach (var client in _clients) client.Dispose();
        _clients.Clear();
        Assert.Equal(0, Server.ConnectionCount);
        foreach (var r in _frontendGrants)
            Assert.True(Frontend.EndAccess(r), $"d1 ref {r} still mapped by the backend");
        _frontendGrants.Clear();
        Assert.Empty(Sim.Violations);
        Assert.Empty(Sim.Ledger().DifferencesFrom(Baseline));
    }

    protected static GntdevException Fails(Errno errno, Action action)
    {
        var e = Assert.ThrowsAny<GntdevException>(action);
        Assert.Equal(errno, e.Errno);
        return e;
    }

    public void Dispose()
    {
        foreach (var client in _clients) client.Dispose();
        Server.Dispose();
        Sim.Dispose();
        GC.SuppressFinalize(this);
    }
}
