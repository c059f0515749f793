using Akka.Hosting;
using BufferActors.Actors.Api;
using BufferActors.Actors.Hosting;
using BufferActors.Actors.Lifecycles;
using BufferActors.Actors.Persistence;
using BufferActors.Native;
using BufferActors.Native.Simulation;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace BufferActors.Host.Scenarios;

/// <summary>
/// A PV display backend on the simulator, driven through the embedding API: each frontend shares
/// framebuffers, the display attaches to them and flips between them, one frontend crashes mid-way,
/// and the run ends with the simulator's ledger at baseline.
/// </summary>
internal sealed class DisplayBackendScenario(TextWriter output, int seed, int framebufferPages, JournalStorage? journal, int frontends = 2, int buffersPerFrontend = 3, int flips = 12)
{
    private sealed class Frontend(SimulatedDomain domain)
    {
        public SimulatedDomain Domain { get; } = domain;
        public List<(uint FirstFrame, uint[] Refs, ExportedBuffer.Exported Export, DmaBufAttachment Scanout)> Buffers { get; } = [];
        public int Flips { get; set; }
        public int Verified { get; set; }
        public string Outcome { get; set; } = "running";
    }

    public async Task<int> RunAsync()
    {
        using var sim = new XenSimulator(new SimulatorOptions { Seed = seed });
        var baseline = sim.Ledger();
        var display = sim.AddDevice("display");
        var host = new HostBuilder()
            .ConfigureServices(s => s.AddBufferActors(
                new BufferActorsOptions { DeviceFactory = _ => sim.OpenGrantDevice(), Journal = journal },
                akka => akka.ConfigureLoggers(l => l.LogLevel = Akka.Event.LogLevel.WarningLevel)))
            .Build();
        await host.StartAsync();
        var client = host.Services.GetRequiredService<BufferActorsClient>();
        var backend = ((SimulatedGrantDevice)host.Services.GetRequiredService<IGrantDevice>()).Process;

        output.WriteLine($"Display backend on the simulated Xen + gntdev (seed {seed}): {frontends} frontends x {buffersPerFrontend} framebuffers of {framebufferPages} pages");
        output.WriteLine(journal switch
        {
            JournalStorage.Sqlite s => $"  journal: SQLite {Path.GetFullPath(s.Path)} (read it back with: bufferactors replay --journal {s.Path})",
            JournalStorage.PostgreSql => "  journal: PostgreSQL",
            _ => "  journal: off",
        });
        var fronts = new List<Frontend>();
        for (int d = 1; d <= frontends; d++)
        {
            var front = new Frontend(sim.CreateDomain((ushort)d, buffersPerFrontend * framebufferPages + 16));
            for (int b = 0; b < buffersPerFrontend; b++)
            {
                uint first = front.Domain.AllocatePages(framebufferPages);
                var refs = front.Domain.GrantPages(DomainId.Dom0, first, framebufferPages);
                var export = await client.ExportAsync(front.Domain.Id, refs, DmaBufFlags.WriteCombine);
                var scanout = display.Attach(backend, export.Fd);
                scanout.Map(DmaDirection.ToDevice);
                await client.AttachAsync(export.Id, "display", DmaDirection.ToDevice);
                front.Buffers.Add((first, refs, export, scanout));
            }
            fronts.Add(front);
            output.WriteLine($"  {front.Domain.Id}: {buffersPerFrontend} framebuffers exported (fds {string.Join(", ", front.Buffers.Select(x => x.Export.Fd))}), attached by the display");
        }
        Print("after connect", sim.Ledger());

        var victim = fronts[^1];
        for (int flip = 0; flip < flips; flip++)
        {
            if (flip == flips / 2)
            {
                output.WriteLine($"  flip {flip}: {victim.Domain.Id} crashes");
                sim.DestroyDomain(victim.Domain.Id);
                victim.Outcome = "crashed";
                var cleanup = await client.DomainDiedAsync(victim.Domain.Id);
                output.WriteLine($"    BufferActors ends its {cleanup.Lifecycles} lifecycles; the display stops scanning them out");
                foreach (var buf in victim.Buffers)
                {
                    var waiter = client.WaitReleasedAsync(buf.Export.Id, TimeSpan.FromSeconds(5));
                    buf.Scanout.Detach();
                    await client.DetachAsync(buf.Export.Id, "display");
                    output.WriteLine($"    {buf.Export.Id}: {await waiter}");
                }
                Print("after the crash", sim.Ledger());
            }
            foreach (var front in fronts.Where(f => f.Outcome == "running"))
            {
                // The guest draws the back buffer, the display scans it out: the very same bytes.
                var (firstFrame, _, export, scanout) = front.Buffers[flip % front.Buffers.Count];
                var pixel = (byte)(flip * 17 + front.Domain.Id.Value);
                front.Domain.Page(firstFrame + (uint)framebufferPages / 2)[123] = pixel;
                if (scanout.Buffer.CpuView().Page(framebufferPages / 2)[123] == pixel) front.Verified++;
                front.Flips++;
            }
        }

        foreach (var front in fronts.Where(f => f.Outcome == "running"))
        {
            foreach (var buf in front.Buffers)
            {
                buf.Scanout.Detach();
                await client.DetachAsync(buf.Export.Id, "display");
                await client.ReleaseAsync(buf.Export.Id);
                await client.WaitReleasedAsync(buf.Export.Id, TimeSpan.FromSeconds(5));
            }
            front.Outcome = "disconnected";
        }
        foreach (var front in fronts)
            foreach (var buf in front.Buffers)
                foreach (var r in buf.Refs)
                    if (!front.Domain.EndAccess(r)) output.WriteLine($"  {front.Domain.Id} ref {r} still mapped!");

        await host.StopAsync(); // CoordinatedShutdown: every lifecycle actor's PostStop runs
        host.Dispose();         // closes the gntdev instance
        var end = sim.Ledger();
        Print("at the end", end);
        output.WriteLine();
        output.WriteLine("  domain  framebuffers  flips  verified-zero-copy  outcome");
        foreach (var f in fronts)
            output.WriteLine($"  {f.Domain.Id,-6}  {f.Buffers.Count,12}  {f.Flips,5}  {f.Verified,18}  {f.Outcome}");
        var leaks = end.DifferencesFrom(baseline).Concat(sim.Violations).ToList();
        if (leaks.Count == 0)
        {
            output.WriteLine("Ledger back at baseline: the crash was cleaned up and nothing leaked.");
            return 0;
        }
        foreach (var leak in leaks) output.WriteLine($"LEAK: {leak}");
        return 1;
    }

    private void Print(string when, SimulatorLedger l) =>
        output.WriteLine($"  ledger {when}: exports={l.Exports} maps={l.Maps} mapped-grants={l.MappedGrants} dma-bufs={l.DmaBufs} " +
                         $"attachments={l.Attachments} fds={l.OpenFds} reservation={l.ReservationPages:+0;-0;0} deferred={l.DeferredRefs}");
}
