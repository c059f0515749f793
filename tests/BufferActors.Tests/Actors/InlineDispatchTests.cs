using Akka.Actor;
using BufferActors.Actors;
using BufferActors.Actors.Api;
using BufferActors.Actors.Dispatch;
using BufferActors.Actors.Hosting;
using BufferActors.Native;
using BufferActors.Native.Simulation;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace BufferActors.Tests.Actors;

/// <summary><see cref="BufferActorsOptions.InlineDispatch"/>: the actors run on the caller's thread, and behave the same.</summary>
public sealed class InlineDispatchTests
{
    /// <summary>The dispatcher the actor was deployed with (a top-level actor's cell may not have started yet).</summary>
    private static MessageDispatcherName DispatcherOf(IActorRef actor) =>
        new(((ActorRefWithCell)actor).Underlying.Props.Dispatcher);

    private sealed record MessageDispatcherName(string Name);

    [Fact]
    public async Task LifecyclesRunOnTheInlineDispatcher_AndAThousandAtOnceEndAtBaseline()
    {
        using var sim = new XenSimulator(new SimulatorOptions { Seed = 3 });
        var baseline = sim.Ledger();
        var display = sim.AddDevice("display");
        var frontends = Enumerable.Range(1, 16).Select(d => sim.CreateDomain((ushort)d)).ToList();
        var host = new HostBuilder()
            .ConfigureServices(s => s.AddBufferActors(new BufferActorsOptions { DeviceFactory = _ => sim.OpenGrantDevice(), Journal = null, InlineDispatch = true }))
            .Build();
        await host.StartAsync();
        var client = host.Services.GetRequiredService<BufferActorsClient>();
        var backend = ((SimulatedGrantDevice)host.Services.GetRequiredService<IGrantDevice>()).Process;
        var system = host.Services.GetRequiredService<ActorSystem>();

        // One lifecycle, step by step: every actor on the way is on the inline dispatcher.
        var refs = frontends[0].GrantPages(DomainId.Dom0, frontends[0].AllocatePages(4), 4);
        var export = await client.ExportAsync(frontends[0].Id, refs);
        Assert.Equal(InlineDispatcher.DispatcherId, DispatcherOf(client.Manager).Name);
        var lifecycle = await system.ActorSelection($"/user/buffers/*/{export.Id.ActorName}").ResolveOne(TimeSpan.FromSeconds(5));
        Assert.Equal(InlineDispatcher.DispatcherId, DispatcherOf(lifecycle).Name);
        var attachment = display.Attach(backend, export.Fd);
        attachment.Map(DmaDirection.ToDevice);
        await client.AttachAsync(export.Id, "display", DmaDirection.ToDevice);
        attachment.Detach();
        await client.DetachAsync(export.Id, "display");
        await client.ReleaseAsync(export.Id);
        Assert.NotEqual(WaitReleasedResult.TimedOut, await client.WaitReleasedAsync(export.Id, TimeSpan.FromSeconds(5)));
        foreach (var r in refs) Assert.True(frontends[0].EndAccess(r));

        // A thousand lifecycles from many threads at once: nested inline runs are bounded, nothing is lost.
        var all = await Task.WhenAll(Enumerable.Range(0, 1000).Select(i => Task.Run(async () =>
        {
            var f = frontends[i % frontends.Count];
            uint[] grant;
            lock (sim) grant = f.GrantPages(DomainId.Dom0, f.AllocatePages(1), 1);
            var e = await client.ExportAsync(f.Id, grant);
            await client.ReleaseAsync(e.Id);
            var result = await client.WaitReleasedAsync(e.Id, TimeSpan.FromSeconds(10));
            return (f, grant, result);
        })));
        Assert.DoesNotContain(all, x => x.result == WaitReleasedResult.TimedOut);
        foreach (var (f, grant, _) in all) Assert.True(f.EndAccess(grant[0]));
        await host.StopAsync();
        host.Dispose(); // closes the host's gntdev instance
        Assert.Empty(sim.Violations);
        Assert.Empty(sim.Ledger().DifferencesFrom(baseline));
    }

    [Fact]
    public async Task ByDefaultTheActorsRunInline_AndWithInlineDispatchOffOnAkkasDefaultDispatcher()
    {
        using var sim = new XenSimulator(new SimulatorOptions { Seed = 4 });
        foreach (var (options, expected) in new[]
        {
            (new BufferActorsOptions { Journal = null }, InlineDispatcher.DispatcherId),
            (new BufferActorsOptions { Journal = null, InlineDispatch = false }, Akka.Dispatch.Dispatchers.DefaultDispatcherId),
        })
        {
            var host = new HostBuilder().ConfigureServices(s => s.AddBufferActors(options with { DeviceFactory = _ => sim.OpenGrantDevice() })).Build();
            await host.StartAsync();
            var client = host.Services.GetRequiredService<BufferActorsClient>();
            Assert.Equal(expected, DispatcherOf(client.Manager).Name);
            await host.StopAsync();
            host.Dispose();
        }
    }
}
