using System.CommandLine;
using BufferActors.Native;
using BufferActors.Native.Simulation;

namespace BufferActors.Host.Commands;

/// <summary>
/// <c>demo</c>: the display-backend scenario through the actors; <c>native-demo</c>: one export, wait
/// and import round on the simulator's native interface, narrated step by step. Both end with the
/// ledger check; exit code 0 only when everything came back to baseline.
/// </summary>
internal static class DemoCommand
{
    public static IEnumerable<Command> Create()
    {
        var seed = new Option<int>("--seed") { Description = "Simulator seed.", DefaultValueFactory = _ => 1 };
        var pages = new Option<int>("--pages") { Description = "Framebuffer size in 4 KiB pages (2025 = 1080p, 8100 = 4K).", DefaultValueFactory = _ => 2025 };
        var journal = new Option<string>("--journal")
        {
            Description = "Where lifecycles are journaled: a SQLite file (default bufferactors-journal.db), a PostgreSQL connection string, or 'none'.",
            DefaultValueFactory = _ => "bufferactors-journal.db",
        };
        var demo = new Command("demo", "Display backend on the simulator: 2 frontends share 3 framebuffers each, the display flips them, one frontend crashes; checks nothing leaked.");
        demo.Options.Add(seed);
        demo.Options.Add(pages);
        demo.Options.Add(journal);
        demo.SetAction((result, _) =>
        {
            string location = result.GetValue(journal)!;
            var storage = location is "none" or "" ? null : Actors.Persistence.JournalStorage.Parse(location);
            return new Scenarios.DisplayBackendScenario(Console.Out, result.GetValue(seed), result.GetValue(pages), storage).RunAsync();
        });
        yield return demo;

        var native = new Command("native-demo", "Export a frontend framebuffer, hand it to a simulated display, wait for its release, import a camera buffer, straight on the native interface.");
        native.Options.Add(seed);
        native.Options.Add(pages);
        native.SetAction(result => Run(result.GetValue(seed), result.GetValue(pages), Console.Out));
        yield return native;
    }

    internal static int Run(int seed, int pages, TextWriter output)
    {
        using var sim = new XenSimulator(new SimulatorOptions { Seed = seed });
        var baseline = sim.Ledger();
        void Say(string text) => output.WriteLine(text);
        void Ledger(string when)
        {
            var l = sim.Ledger();
            Say($"    ledger {when}: maps={l.Maps} mapped-grants={l.MappedGrants} granted-refs={l.GrantedRefs} dma-bufs={l.DmaBufs} " +
                $"attachments={l.Attachments} fds={l.OpenFds} reservation={l.ReservationPages:+0;-0;0} deferred={l.DeferredRefs}");
        }

        Say($"BufferActors demo on the simulated Xen + gntdev (seed {seed})");
        var frontend = sim.CreateDomain(1, pages + 16);
        var backend = sim.StartProcess("display-backend");
        var display = sim.AddDevice("display");
        var camera = sim.AddDevice("camera");
        using var gntdev = sim.OpenGrantDevice(backend);

        Say($"1. d1 allocates a {pages}-page framebuffer and grants it to d0");
        uint first = frontend.AllocatePages(pages);
        var refs = frontend.GrantPages(DomainId.Dom0, first, pages);

        Say("2. the backend exports it as a write-combined dma-buf (DMABUF_EXP_FROM_REFS, GNTDEV_DMA_FLAG_WC)");
        var export = gntdev.ExportDmaBuf(DmaBufFlags.WriteCombine, frontend.Id, refs);
        Say($"    fd {export.Fd}, {export.PageCount} pages; d0 reservation lowered by {pages} pages");
        Ledger("after export");

        Say("3. the display attaches and maps it for DMA; d1 draws, the display reads the same bytes (no copy)");
        var attachment = display.Attach(backend, export.Fd);
        attachment.Map(DmaDirection.ToDevice);
        frontend.Page(first + (uint)pages - 1)[0] = 0x7E;
        var seen = backend.DmaBufOf(export.Fd).CpuView().Page(pages - 1)[0];
        Say($"    pixel written by d1: 0x7E, read through the dma-buf: 0x{seen:X2}");

        Say("4. the backend closes its fd; the display still holds the buffer");
        gntdev.CloseFd(export.Fd);
        Say($"    WAIT_RELEASED(fd {export.Fd}, 0 ms) -> {gntdev.WaitReleased(export.Fd, 0)}");
        var waiter = Task.Run(() => gntdev.WaitReleased(export.Fd, 5_000));
        while (gntdev.BlockedWaiters == 0) Thread.Sleep(1); // let it block, so the narration shows the wake-up
        Say("5. the display detaches; the buffer is released and the waiter wakes");
        attachment.Detach();
        Say($"    WAIT_RELEASED(fd {export.Fd}, 5000 ms) -> {waiter.GetAwaiter().GetResult()}");
        Say($"    again -> {gntdev.WaitReleased(export.Fd, 0)} (ENOENT: already released)");
        int ended = refs.Count(frontend.EndAccess);
        Say($"    d1 ended access to {ended}/{pages} refs (possible only because every page was unmapped)");
        Ledger("after release");

        Say("6. the camera allocates a 16-page buffer; the backend grants it to d1 (DMABUF_IMP_TO_REFS)");
        int cameraFd = camera.AllocateBuffer(backend, 16);
        var import = gntdev.ImportDmaBuf(cameraFd, 16, frontend.Id);
        gntdev.CloseFd(cameraFd);
        Say($"    refs {import.Refs[0]}..{import.Refs[^1]} granted read-write to d1");
        int handle = frontend.MapForeign(DomainId.Dom0, import.Refs[0]);
        Say("7. d1 maps one ref and is slow to unmap it; the backend releases the import (DMABUF_IMP_RELEASE)");
        gntdev.ReleaseImport(import.Fd);
        var deferred = sim.DeferredEndAccesses();
        Say($"    {deferred.Count} ref deferred (still mapped by d1): its page stays pinned, nothing is dropped");
        sim.Tick();
        frontend.UnmapForeign(handle);
        sim.Tick();
        Say($"    d1 unmapped; after the next retry {sim.DeferredEndAccesses().Count} deferred");

        gntdev.Dispose();
        backend.Exit();
        var differences = sim.Ledger().DifferencesFrom(baseline);
        Ledger("at the end");
        if (differences.Count == 0 && sim.Violations.Count == 0)
        {
            Say("Ledger back at baseline: nothing leaked.");
            return 0;
        }
        foreach (var d in differences.Concat(sim.Violations)) Say($"LEAK: {d}");
        return 1;
    }
}
