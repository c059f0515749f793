using BufferActors.Actors;
using BufferActors.Actors.Api;
using BufferActors.Actors.Lifecycles;
using BufferActors.Actors.Supervision;
using BufferActors.Tests.Actors;

namespace BufferActors.Tests.Lifecycles.Probe;

/// <summary>
/// A fourth kind plugs into the core through its descriptor alone: started and routed by the manager, counted by
/// its domain's quota, answered for once finished, ended when its domain dies, listed in the status, refused up
/// front by its own rule, and refused by a host that does not run it.
/// </summary>
public sealed class ProbeKindTests() : LifecycleTest(BufferManager.Settings.Default with
{
    Quotas = new DomainLifecycles.Quotas(64, 100),
    Kinds = LifecycleKinds.Default(ExportSettings.Default).With(new ProbeKind()), // the registration line
})
{
    [Fact]
    public async Task AProbeStarts_AnswersItsCommands_EndsOnRequest_AndIsAnsweredForAfterwards()
    {
        var started = await Client.StartAsync<Probe.Started>(new Probe.Start(Dom1, 10));
        Assert.Equal(Probe.Kind, started.Id.Kind);
        Assert.Equal("d1/probe-1", started.Id.ToString());
        Assert.Equal(1, (await Client.SendAsync<Probe.Pong>(new Probe.Ping(started.Id))).Pings);
        Assert.Equal(2, (await Client.SendAsync<Probe.Pong>(new Probe.Ping(started.Id))).Pings);
        Assert.Equal([started.Id], (await Client.SnapshotAsync()).Domains.Single().Lifecycles);

        await Client.SendAsync<Probe.Ended>(new Probe.End(started.Id));
        var gone = await Assert.ThrowsAsync<BufferActorsException>(() => Client.SendAsync<Probe.Pong>(new Probe.Ping(started.Id)));
        Assert.Equal(ErrorCode.NotFound, gone.Code);
        await AwaitNoLiveLifecycles();
        AssertLedgerAtBaseline();
    }

    [Fact]
    public async Task ProbesCountAgainstTheDomainsPages_AndTheKindsOwnRefusalComesFirst()
    {
        var first = await Client.StartAsync<Probe.Started>(new Probe.Start(Dom1, 60));
        var over = await Assert.ThrowsAsync<BufferActorsException>(() => Client.StartAsync<Probe.Started>(new Probe.Start(Dom1, 50)));
        Assert.Equal(ErrorCode.QuotaExceeded, over.Code); // 110 pages of a 100-page quota
        var tooBig = await Assert.ThrowsAsync<BufferActorsException>(() => Client.StartAsync<Probe.Started>(new Probe.Start(Dom1, ProbeKind.MaxPages + 1)));
        Assert.Equal(ErrorCode.InvalidArgument, tooBig.Code);
        Assert.Contains("at most 64 pages", tooBig.Message);
        await Client.SendAsync<Probe.Ended>(new Probe.End(first.Id));
        await Client.StartAsync<Probe.Started>(new Probe.Start(Dom1, 50)); // the pages came back
        await Client.DomainDiedAsync(Dom1);
        await AwaitNoLiveLifecycles();
        AssertLedgerAtBaseline();
    }

    [Fact]
    public async Task WhenItsDomainDies_AProbeIsEndedAfterTheGntdevsKinds()
    {
        var probe = await Client.StartAsync<Probe.Started>(new Probe.Start(Dom1, 4));
        var map = await Client.MapAsync(Dom1, Share(2));
        var cleanup = await Client.DomainDiedAsync(Dom1);
        Assert.Equal(2, cleanup.Lifecycles);
        await AwaitNoLiveLifecycles();
        var refused = await Assert.ThrowsAsync<BufferActorsException>(() => Client.StartAsync<Probe.Started>(new Probe.Start(Dom1, 4)));
        Assert.Equal(ErrorCode.DomainDead, refused.Code);
        Assert.NotEqual(probe.Id, map.Id);
        AssertLedgerAtBaseline();
    }
}

/// <summary>A host that does not run the probe refuses it as it refuses any request it has no kind for.</summary>
public sealed class HostWithoutTheProbeTests : LifecycleTest
{
    [Fact]
    public async Task AProbeIsRefusedUpFront()
    {
        var e = await Assert.ThrowsAsync<BufferActorsException>(() => Client.StartAsync<Probe.Started>(new Probe.Start(Dom1, 4)));
        Assert.Equal(ErrorCode.InvalidArgument, e.Code);
        Assert.Contains("Start", e.Message);
        Assert.Empty((await Client.SnapshotAsync()).Domains);
        AssertLedgerAtBaseline();
    }
}
