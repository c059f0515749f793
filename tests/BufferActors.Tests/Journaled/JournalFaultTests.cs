using Akka.Configuration;
using Akka.Persistence.TestKit;
using BufferActors.Actors;
using BufferActors.Actors.Api;
using BufferActors.Actors.Persistence;
using BufferActors.Native;
using BufferActors.Native.Simulation;
using BufferActors.Tests.Persistence;
using Microsoft.Data.Sqlite;

namespace BufferActors.Tests.Journaled;

/// <summary>
/// Journal faults (Akka.Persistence.TestKit, and a real SQLite database refusing writes): a failed or
/// rejected write stops the lifecycle, which releases what it holds; the caller gets a typed error; what
/// was acknowledged stays journaled.
/// </summary>
public sealed class JournalFaultTests : IDisposable
{
    private static readonly DomainId Dom1 = new(1);
    private readonly XenSimulator _sim = new(new SimulatorOptions { Seed = 5 });
    private readonly SimulatorLedger _baseline;
    private readonly SimulatedDomain _frontend;
    private readonly SimulatedGrantDevice _gntdev;

    public JournalFaultTests()
    {
        _baseline = _sim.Ledger();
        _frontend = _sim.CreateDomain(1);
        _gntdev = _sim.OpenGrantDevice();
    }

    private static Config TestJournalConfig => ConfigurationFactory.ParseString("""
        akka.persistence.journal.plugin = "akka.persistence.journal.test"
        akka.persistence.journal.test {
          class = "Akka.Persistence.TestKit.TestJournal, Akka.Persistence.TestKit"
          plugin-dispatcher = "akka.actor.default-dispatcher"
        }
        """).WithFallback(new JournalStorage.InMemory().ToConfig());

    private static ITestJournal TestJournalOf(JournaledHost host) =>
        TestJournal.FromRef(Akka.Persistence.Persistence.Instance.Apply(host.System).JournalFor(null));

    [Fact]
    public async Task AFailedWriteStopsTheLifecycle_ReleasesIt_AndTheCallerGetsAJournalError()
    {
        var refs = _frontend.GrantPages(DomainId.Dom0, _frontend.AllocatePages(4), 4);
        await using (var host = new JournaledHost(new DeviceSession(_gntdev), TestJournalConfig, TimeSpan.FromSeconds(2)))
        {
            var export = await host.Client.ExportAsync(Dom1, refs, DmaBufFlags.WriteCombine);
            Assert.Single((await host.LiveAsync()).Lifecycles); // acknowledged, so journaled
            await TestJournalOf(host).OnWrite.Fail();

            var e = await Assert.ThrowsAsync<BufferActorsException>(() => host.Client.AttachAsync(export.Id, "display", DmaDirection.ToDevice));
            Assert.Equal(ErrorCode.Journal, e.Code);
            await AwaitLedger(l => l.Exports == 0); // stopped and released: fd closed, grants unmapped, reservation back

            // While storage keeps failing, a new lifecycle cannot be journaled: it is refused and leaves nothing.
            var next = await Assert.ThrowsAsync<BufferActorsException>(() => host.Client.ExportAsync(Dom1, refs));
            Assert.Equal(ErrorCode.Journal, next.Code);
            await AwaitLedger(l => l.Exports == 0);

            // Storage is back: the supervisor started the journal again, which recovered what was durable.
            await TestJournalOf(host).OnWrite.Pass();
            await host.JournalUpAsync();
            var again = await host.Client.ExportAsync(Dom1, refs);
            Assert.Contains((await host.LiveAsync()).Lifecycles, r => r.Id == again.Id);
            await host.Client.ReleaseAsync(again.Id);
            Assert.NotEqual(WaitReleasedResult.TimedOut, await host.Client.WaitReleasedAsync(again.Id, TimeSpan.FromSeconds(5)));
        }
        EndAndAssertBaseline(refs);
    }

    [Theory]
    [InlineData(JournalWriteFault.Reject)]
    [InlineData(JournalWriteFault.Fail)]
    public async Task AnInjectedWriteFault_RefusesOnlyItsStep_TheJournalGoesOn_AndNothingLeaks(JournalWriteFault fault)
    {
        var refs = _frontend.GrantPages(DomainId.Dom0, _frontend.AllocatePages(2), 2);
        int armed = 0;
        var settings = new LifecycleJournal.Settings(Faults: events =>
            events.Any(e => e is Attached) && Interlocked.Exchange(ref armed, 0) == 1 ? fault : JournalWriteFault.None);
        await using (var host = new JournaledHost(new DeviceSession(_gntdev), new JournalStorage.InMemory().ToConfig(), TimeSpan.FromSeconds(2), settings))
        {
            var first = await host.Client.ExportAsync(Dom1, refs, DmaBufFlags.WriteCombine);
            // The refused lifecycle's end is owed to the journal by the outbox, which writes it after the lifecycle
            // stopped (retrying until the journal takes it): awaited here, not assumed to beat the next lifecycle.
            var firstEnded = host.WrittenAsync(w => w.Id == first.Id && w.IsTerminal);
            armed = 1;
            var e = await Assert.ThrowsAsync<BufferActorsException>(() => host.Client.AttachAsync(first.Id, "display", DmaDirection.ToDevice));
            Assert.Equal(ErrorCode.Journal, e.Code);
            await AwaitLedger(l => l.Exports == 0 && l.ReservationPages == _baseline.ReservationPages);
            await firstEnded;

            // The next lifecycle is journaled normally (after a storage failure: by the restarted journal).
            await host.JournalUpAsync();
            var second = await host.Client.ExportAsync(Dom1, refs);
            await host.Client.AttachAsync(second.Id, "display", DmaDirection.ToDevice);
            await host.Client.DetachAsync(second.Id, "display");
            await host.Client.ReleaseAsync(second.Id);
            Assert.NotEqual(WaitReleasedResult.TimedOut, await host.Client.WaitReleasedAsync(second.Id, TimeSpan.FromSeconds(5)));
            var live = await host.LiveAsync();
            Assert.Empty(live.Lifecycles); // the refused one ended (Failed), the second released
        }
        EndAndAssertBaseline(refs);
    }

    [Fact]
    public async Task ARejectedWriteFailsOnlyThatStep_AndTheJournalGoesOn()
    {
        var refs = _frontend.GrantPages(DomainId.Dom0, _frontend.AllocatePages(2), 2);
        await using (var host = new JournaledHost(new DeviceSession(_gntdev), TestJournalConfig, TimeSpan.FromSeconds(2)))
        {
            var journal = TestJournalOf(host);
            await journal.OnWrite.Reject();
            var e = await Assert.ThrowsAsync<BufferActorsException>(() => host.Client.ExportAsync(Dom1, refs, DmaBufFlags.Coherent));
            Assert.Equal(ErrorCode.Journal, e.Code);
            await AwaitLedger(l => l.Exports == 0 && l.ReservationPages == 0);

            await journal.OnWrite.Pass();
            var export = await host.Client.ExportAsync(Dom1, refs);
            Assert.Single((await host.LiveAsync()).Lifecycles);
            await host.Client.ReleaseAsync(export.Id);
            Assert.NotEqual(WaitReleasedResult.TimedOut, await host.Client.WaitReleasedAsync(export.Id, TimeSpan.FromSeconds(5)));
        }
        EndAndAssertBaseline(refs);
    }

    [Fact]
    public async Task ADatabaseFailureOnSqliteStopsTheLifecycle_TheCallerGetsAJournalError_AndNothingOfTheWriteIsJournaled()
    {
        var folder = Directory.CreateTempSubdirectory("ba-journal-fault-").FullName;
        var storage = new JournalStorage.Sqlite(Path.Combine(folder, "journal.db"));
        storage.Prepare();
        var refs = _frontend.GrantPages(DomainId.Dom0, _frontend.AllocatePages(2), 2);
        try
        {
            await using (var host = new JournaledHost(new DeviceSession(_gntdev), storage.ToConfig(), TimeSpan.FromSeconds(2)))
            {
                var export = await host.Client.ExportAsync(Dom1, refs);
                long journaled = JournalDatabase.Events(storage).Count;
                Assert.True(journaled >= 2, $"{journaled} events journaled for the export");
                // The database refuses every further insert (as a full disk or an I/O error would).
                JournalDatabase.Execute(storage, "CREATE TRIGGER refuse BEFORE INSERT ON journal BEGIN SELECT RAISE(ABORT, 'injected failure'); END");

                var e = await Assert.ThrowsAsync<BufferActorsException>(() => host.Client.AttachAsync(export.Id, "display", DmaDirection.ToDevice));
                Assert.Equal(ErrorCode.Journal, e.Code);
                await AwaitLedger(l => l.Exports == 0);
                Assert.Equal(journaled, JournalDatabase.Events(storage).Count);

                var next = await Assert.ThrowsAsync<BufferActorsException>(() => host.Client.ExportAsync(Dom1, refs));
                Assert.Equal(ErrorCode.Journal, next.Code);
                await AwaitLedger(l => l.Exports == 0);
            }
            EndAndAssertBaseline(refs);
        }
        finally
        {
            SqliteConnection.ClearAllPools();
            Directory.Delete(folder, recursive: true);
        }
    }

    private async Task AwaitLedger(Func<SimulatorLedger, bool> condition)
    {
        try
        {
            await _sim.WhenLedger(condition, TimeSpan.FromSeconds(3));
        }
        catch (TimeoutException)
        {
            Assert.Fail($"ledger: {_sim.Ledger()}");
        }
    }

    private void EndAndAssertBaseline(uint[] refs)
    {
        foreach (var r in refs) Assert.True(_frontend.EndAccess(r), $"ref {r} still mapped");
        _gntdev.Dispose();
        Assert.Empty(_sim.Violations);
        Assert.Empty(_sim.Ledger().DifferencesFrom(_baseline));
    }

    public void Dispose() => _sim.Dispose();
}
