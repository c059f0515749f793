using BufferActors.Actors;
using BufferActors.Actors.Api;
using BufferActors.Actors.Lifecycles;
using BufferActors.Actors.Supervision;
using BufferActors.Native;

namespace BufferActors.Tests.Actors;

/// <summary>
/// The operator's release of a destroyed domain's accounting (<see cref="BufferActorsClient.ReleaseDomainAsync"/>):
/// what a device still holds stays live and tracked until it lets go, but no longer counts against the domain id,
/// whose next requests — a new domain given the same id — are served with empty quotas instead of refused
/// <c>DomainDead</c>; commands for either generation of lifecycles reach them, however a client routes them.
/// </summary>
public sealed class DomainReleaseTests : LifecycleTest
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(5);

    public DomainReleaseTests() : base(BufferManager.Settings.Default with
    {
        Quotas = DomainLifecycles.Quotas.Default with { MaxQuarantinedBuffers = 1 },
        Export = new ExportSettings(TimeSpan.FromMilliseconds(1), TimeSpan.FromMilliseconds(20), TimeSpan.FromMilliseconds(200)),
    })
    {
    }

    [Fact]
    public async Task ADeadDomainReleased_KeepsWhatADeviceHolds_AndItsIdServesANewDomainWithEmptyQuotas()
    {
        var ended = await Client.ExportAsync(Dom1, Share(1));
        var held = await Client.ExportAsync(Dom1, Share(2));
        int holder = Gntdev.DuplicateFd(held.Fd); // a device that never lets go
        await Client.ReleaseAsync(held.Id);
        await AwaitAssertAsync(async () => Assert.True((await Client.StatusAsync(held.Id)).Quarantined), Bound);

        await Client.DomainDiedAsync(Dom1);
        Assert.NotEqual(WaitReleasedResult.TimedOut, await Client.WaitReleasedAsync(ended.Id, Bound)); // nobody held it
        var dead = await Assert.ThrowsAsync<BufferActorsException>(() => Client.ExportAsync(Dom1, Share(1)));
        Assert.Equal(ErrorCode.DomainDead, dead.Code);

        var released = await Client.ReleaseDomainAsync(Dom1);
        Assert.Equal(new DomainLifecycles.DomainReleased(Dom1, WasDead: true, Lifecycles: 1, Pages: 2), released);

        // The id serves again, and the quarantined export no longer counts against its cap of one.
        var fresh = await Client.ExportAsync(Dom1, Share(1));
        var snapshot = await Client.SnapshotAsync();
        var generations = snapshot.Domains.Where(d => d.Domain == Dom1).ToList();
        Assert.Equal(2, generations.Count);
        Assert.Equal([held.Id], generations.Single(d => d.Released).Lifecycles);
        Assert.Equal([fresh.Id], generations.Single(d => !d.Released).Lifecycles);
        Assert.False(generations.Single(d => !d.Released).Dead);

        Assert.True((await Client.StatusAsync(held.Id)).Quarantined); // still tracked, reached through the manager
        Assert.Equal(Baseline.Exports + 2, Sim.Ledger().Exports); // the held one and the fresh one: nothing forgotten

        Gntdev.CloseFd(holder); // the device lets go at last
        Assert.NotEqual(WaitReleasedResult.TimedOut, await Client.WaitReleasedAsync(held.Id, Bound));
        await AwaitAssertAsync(async () => Assert.DoesNotContain((await Client.SnapshotAsync()).Domains, d => d.Released), Bound);

        await Client.ReleaseAsync(fresh.Id);
        Assert.NotEqual(WaitReleasedResult.TimedOut, await Client.WaitReleasedAsync(fresh.Id, Bound));
        await AwaitNoLiveLifecycles();
        AssertLedgerAtBaseline();
    }

    [Fact]
    public async Task AClientThatStillRoutesToTheReleasedSupervisor_ReachesTheNewGenerationsLifecycles()
    {
        var stale = new BufferActorsClient(Sys, Manager, Bound);
        var held = await stale.ExportAsync(Dom1, Share(1)); // `stale` now routes domain 1's commands to its first supervisor
        int holder = Gntdev.DuplicateFd(held.Fd);
        await stale.ReleaseAsync(held.Id);

        await Client.ReleaseDomainAsync(Dom1);
        var fresh = await Client.ExportAsync(Dom1, Share(1));
        // The first supervisor, still live for the held export, sends the command for an id beyond its span on.
        Assert.Equal(fresh.Id, (await stale.StatusAsync(fresh.Id)).Id);

        Gntdev.CloseFd(holder);
        Assert.NotEqual(WaitReleasedResult.TimedOut, await stale.WaitReleasedAsync(held.Id, Bound));
        await AwaitAssertAsync(async () => Assert.DoesNotContain((await Client.SnapshotAsync()).Domains, d => d.Released), Bound);
        // The first supervisor is gone: the command lands in dead letters and is sent on to the manager.
        Assert.Equal(fresh.Id, (await stale.StatusAsync(fresh.Id)).Id);

        await stale.ReleaseAsync(fresh.Id);
        Assert.NotEqual(WaitReleasedResult.TimedOut, await stale.WaitReleasedAsync(fresh.Id, Bound));
        await AwaitNoLiveLifecycles();
        AssertLedgerAtBaseline();
    }

    [Fact]
    public async Task ReleasingALiveDomain_EndsItsLifecyclesAsItsDeathWould_AndTellsSubscribers()
    {
        var died = new TaskCompletionSource<DomainLifecycles.FrontendDied>(TaskCreationOptions.RunContinuationsAsynchronously);
        using var subscription = Client.Subscribe<DomainLifecycles.FrontendDied>(d => died.TrySetResult(d));
        var export = await Client.ExportAsync(Dom1, Share(1));
        var map = await Client.MapAsync(Dom1, Share(2));

        var released = await Client.ReleaseDomainAsync(Dom1);

        Assert.False(released.WasDead);
        Assert.Equal(Dom1, (await died.Task.WaitAsync(Bound)).Domain);
        Assert.NotEqual(WaitReleasedResult.TimedOut, await Client.WaitReleasedAsync(export.Id, Bound));
        await AwaitNoLiveLifecycles();
        Assert.Equal(WaitReleasedResult.NotFound, await Client.WaitReleasedAsync(export.Id, Bound));
        await Assert.ThrowsAsync<BufferActorsException>(() => Client.UnmapAsync(map.Id));
        AssertLedgerAtBaseline();
    }

    [Fact]
    public async Task AnIdReleasedOverAndOver_IsServedRightAfterEachRelease()
    {
        // Each release with nothing held stops its supervisor at once; every next export is served by a new one, named
        // after the id's generation, so never by a name a supervisor still stopping may hold.
        for (int i = 0; i < 20; i++)
        {
            var export = await Client.ExportAsync(Dom1, Share(1));
            await Client.ReleaseAsync(export.Id);
            Assert.NotEqual(WaitReleasedResult.TimedOut, await Client.WaitReleasedAsync(export.Id, Bound));
            Assert.Equal(0, (await Client.ReleaseDomainAsync(Dom1)).Lifecycles);
        }
        var last = await Client.ExportAsync(Dom1, Share(1));
        Assert.Equal([last.Id], (await Client.SnapshotAsync()).Domains.Single(d => d.Lifecycles.Count > 0).Lifecycles);
        await Client.ReleaseAsync(last.Id);
        Assert.NotEqual(WaitReleasedResult.TimedOut, await Client.WaitReleasedAsync(last.Id, Bound));
        await AwaitNoLiveLifecycles();
        AssertLedgerAtBaseline();
    }

    [Fact]
    public async Task AReservedIdIsRefused_AndAnIdNeverSeenHasNothingToRelease()
    {
        var live = await Client.ExportAsync(Dom1, Share(1));

        var reserved = await Assert.ThrowsAsync<BufferActorsException>(() => Client.ReleaseDomainAsync(new DomainId(0x7FF2)));
        Assert.Equal(ErrorCode.InvalidArgument, reserved.Code);
        Assert.Equal(new DomainLifecycles.DomainReleased(new DomainId(9), false, 0, 0), await Client.ReleaseDomainAsync(new DomainId(9)));
        Assert.Equal([live.Id], (await Client.SnapshotAsync()).Domains.Single().Lifecycles); // nothing else affected

        await Client.ReleaseAsync(live.Id);
        Assert.NotEqual(WaitReleasedResult.TimedOut, await Client.WaitReleasedAsync(live.Id, Bound));
        await AwaitNoLiveLifecycles();
        AssertLedgerAtBaseline();
    }

    [Fact]
    public async Task AStatusAskedAsAReleasedSupervisorEmpties_IsAnswered()
    {
        // The manager stops a released supervisor when it says it is empty; a status the manager asked of it just
        // before is still in its mailbox then, and must be answered, not dropped with the mailbox.
        for (int round = 0; round < 30; round++)
        {
            var held = await Client.ExportAsync(Dom1, Share(1));
            int holder = Gntdev.DuplicateFd(held.Fd);
            await Client.ReleaseAsync(held.Id);
            Assert.Equal(1, (await Client.ReleaseDomainAsync(Dom1)).Lifecycles);

            var snapshots = new List<Task<BufferManager.Status>>();
            var polling = Task.Run(async () =>
            {
                while (snapshots.Count < 2000)
                {
                    var snapshot = Client.SnapshotAsync();
                    lock (snapshots) snapshots.Add(snapshot);
                    if ((await snapshot).Domains.Count == 0) break;
                }
            });
            Gntdev.CloseFd(holder); // the held export ends, and with it the released supervisor
            await polling.WaitAsync(Bound * 2);
            Task<BufferManager.Status>[] all;
            lock (snapshots) all = [.. snapshots];
            await Task.WhenAll(all).WaitAsync(Bound * 2); // each one answered, none "a domain supervisor did not answer"
        }
        await AwaitNoLiveLifecycles();
        AssertLedgerAtBaseline();
    }
}
