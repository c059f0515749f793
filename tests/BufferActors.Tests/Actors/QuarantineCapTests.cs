using BufferActors.Actors;
using BufferActors.Actors.Api;
using BufferActors.Actors.Lifecycles;
using BufferActors.Actors.Supervision;
using BufferActors.Native;

namespace BufferActors.Tests.Actors;

/// <summary>
/// A domain's cap on quarantined exports: released exports a holder keeps past the quarantine time are quarantined,
/// and once a domain has as many as its quota allows, its new exports are refused (QuotaExceeded) before anything
/// reaches the device, other domains unaffected, until a quarantined export is released.
/// </summary>
public sealed class QuarantineCapTests : LifecycleTest
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(5);

    public QuarantineCapTests() : base(BufferManager.Settings.Default with
    {
        Quotas = DomainLifecycles.Quotas.Default with { MaxQuarantinedBuffers = 1 },
        Export = new ExportSettings(TimeSpan.FromMilliseconds(1), TimeSpan.FromMilliseconds(20), TimeSpan.FromMilliseconds(200)),
    })
    {
    }

    [Fact]
    public async Task AtTheCap_ADomainsNewExportsAreRefused_OthersAreServed_AndAReleaseLiftsIt()
    {
        var other = Sim.CreateDomain(2);
        var held = await Client.ExportAsync(Dom1, Share(2));
        int holder = Gntdev.DuplicateFd(held.Fd); // a device that never lets go
        await Client.ReleaseAsync(held.Id);
        await AwaitAssertAsync(async () => Assert.True((await Client.StatusAsync(held.Id)).Quarantined), Bound);
        var exportsBefore = Sim.Ledger().Exports;

        var refused = await Assert.ThrowsAsync<BufferActorsException>(() => Client.ExportAsync(Dom1, Share(1)));
        Assert.Equal(ErrorCode.QuotaExceeded, refused.Code);
        Assert.Contains("quarantined", refused.Message, StringComparison.Ordinal);
        Assert.Equal(exportsBefore, Sim.Ledger().Exports); // refused before the device

        var elsewhere = await Client.ExportAsync(other.Id, Share(1, from: other));
        await Client.ReleaseAsync(elsewhere.Id);
        Assert.NotEqual(WaitReleasedResult.TimedOut, await Client.WaitReleasedAsync(elsewhere.Id, Bound));

        Gntdev.CloseFd(holder); // the holder lets go: released, no longer quarantined
        Assert.NotEqual(WaitReleasedResult.TimedOut, await Client.WaitReleasedAsync(held.Id, Bound));
        await AwaitAssertAsync(async () =>
        {
            var again = await Client.ExportAsync(Dom1, Share(1));
            await Client.ReleaseAsync(again.Id);
            Assert.NotEqual(WaitReleasedResult.TimedOut, await Client.WaitReleasedAsync(again.Id, Bound));
        }, Bound);
        await AwaitNoLiveLifecycles();
        AssertLedgerAtBaseline();
    }
}
