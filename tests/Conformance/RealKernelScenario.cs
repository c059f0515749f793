using System.Text.Json;
using System.Text.Json.Nodes;
using Akka.Hosting;
using BufferActors.Actors.Api;
using BufferActors.Actors.Hosting;
using BufferActors.Actors.Persistence;
using BufferActors.Native;
using BufferActors.Native.Linux;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace BufferActors.Conformance;

/// <summary>
/// A display-like backend on the real gntdev, through the embedding API, journaled to SQLite: dom0
/// grants framebuffers to itself with gntalloc, the actors export them, a "device" thread takes its own
/// reference, maps the buffer (IMP_TO_REFS + a grant map on its own gntdev instance, as a PRIME
/// importer would), checks the frontend's pattern and lets go; the actors release and wait. A camera-like
/// udmabuf is imported and mapped through the actors too. Clean means every lifecycle ended as asked,
/// every gntalloc grant deallocated, the fd count back where it started.
/// </summary>
internal static class RealKernelScenario
{
    /// <summary>The prefix of the scenario's result line.</summary>
    public const string ResultPrefix = "BA-SCENARIO ";

    /// <summary>The prefix of the journal's base64 lines (the lane copies the journal out of the guest through the console).</summary>
    public const string JournalPrefix = "BA-JOURNAL ";

    private const int Framebuffers = 6;
    private const int Pages = 64;
    private const string JournalPath = "/tmp/scenario-journal.db";

    public static int Run(TextWriter output)
    {
        var result = new JsonObject();
        bool clean;
        try
        {
            clean = RunAsync(result).GetAwaiter().GetResult();
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            result["error"] = $"{e.GetType().Name}: {e.Message}";
            clean = false;
        }
        result["clean"] = clean;
        output.WriteLine(ResultPrefix + result.ToJsonString());
        if (File.Exists(JournalPath))
        {
            string journal = Convert.ToBase64String(File.ReadAllBytes(JournalPath));
            for (int i = 0; i < journal.Length; i += 3000) output.WriteLine(JournalPrefix + journal.Substring(i, Math.Min(3000, journal.Length - i)));
            output.WriteLine(JournalPrefix + "END");
        }
        output.Flush();
        return clean ? 0 : 1;
    }

    private static async Task<bool> RunAsync(JsonObject result)
    {
        File.Delete(JournalPath);
        var target = new LinuxTarget();
        int fdsAtStart = target.OpenFdCount();
        var problems = new JsonArray();
        int lifecycles = 0, verified = 0;

        var host = new HostBuilder()
            .ConfigureServices(s => s.AddBufferActors(
                new BufferActorsOptions
                {
                    // No DeviceFactory: the Linux gntdev at /dev/xen/gntdev.
                    Journal = new JournalStorage.Sqlite(JournalPath),
                    // Under QEMU TCG every method is JIT-compiled at emulated speed on first use: the first
                    // lifecycle (journal schema, persistence start) takes far longer than on a real machine.
                    RequestTimeout = TimeSpan.FromMinutes(5),
                    JournalTimeout = TimeSpan.FromMinutes(4),
                },
                akka => akka.ConfigureLoggers(l => l.LogLevel = Akka.Event.LogLevel.WarningLevel)))
            .Build();
        var clock = System.Diagnostics.Stopwatch.StartNew();
        await host.StartAsync();
        result["hostStartSeconds"] = Math.Round(clock.Elapsed.TotalSeconds, 1);
        var client = host.Services.GetRequiredService<BufferActorsClient>();

        using (var allocator = LinuxGrantAllocator.Open())
        {
            var grants = new List<GrantAllocation>();
            var exports = new List<ExportedBufferHandle>();
            for (int i = 0; i < Framebuffers; i++)
            {
                var grant = allocator.Allocate(DomainId.Dom0, Pages);
                CaseContext.Fill(grant.Pages, (byte)(100 + i));
                grants.Add(grant);
                var export = await client.ExportAsync(DomainId.Dom0, grant.Refs, DmaBufFlags.None);
                if (lifecycles == 0) result["firstExportSeconds"] = Math.Round(clock.Elapsed.TotalSeconds, 1);
                lifecycles++;
                // The device's own reference, as a driver holds the dma-buf it was handed.
                int deviceFd = target.Dup(export.Fd);
                await client.AttachAsync(export.Id, "scanout", DmaDirection.ToDevice);
                exports.Add(new ExportedBufferHandle(export, deviceFd, (byte)(100 + i)));
            }

            // The device scans every buffer out on its own thread, then lets go.
            var device = Task.Factory.StartNew(() =>
            {
                using var gntdev = LinuxGrantDevice.Open();
                int ok = 0;
                foreach (var e in exports)
                {
                    var import = gntdev.ImportDmaBuf(e.DeviceFd, Pages, DomainId.Dom0);
                    var map = gntdev.MapGrantRefs(DomainId.Dom0, [.. import.Refs], readOnly: true);
                    if (CaseContext.Describe(map.Pages, e.Pattern) == $"pattern {e.Pattern}") ok++;
                    gntdev.UnmapGrantRefs(map);
                    gntdev.ReleaseImport(e.DeviceFd);
                    target.Close(e.DeviceFd);
                }
                return ok;
            }, TaskCreationOptions.LongRunning);

            // The backend waits for each buffer's release while the device still scans out (a wait on a
            // lifecycle that has already ended answers NotFound: there is nothing left to wait for).
            var waits = exports.Select(e => (e.Export.Id, Outcome: client.WaitReleasedAsync(e.Export.Id, TimeSpan.FromMinutes(4)))).ToList();
            foreach (var e in exports)
            {
                await client.DetachAsync(e.Export.Id, "scanout");
                await client.ReleaseAsync(e.Export.Id);
            }
            verified = await device;
            foreach (var (id, wait) in waits)
            {
                var outcome = await wait;
                if (outcome != WaitReleasedResult.Released) problems.Add($"{id}: wait answered {outcome}");
            }

            // A camera-like buffer: imported and granted, mapped back through the actors, released.
            for (int i = 0; i < 2; i++)
            {
                using var camera = LinuxUdmabuf.Create(16);
                CaseContext.Fill(camera.Pages, (byte)(200 + i));
                var import = await client.ImportAsync(DomainId.Dom0, camera.Fd, 16);
                lifecycles++;
                camera.CloseDmaBuf(); // the import lifecycle holds the buffer; the caller need not
                var map = await client.MapAsync(DomainId.Dom0, import.Refs, readOnly: true);
                lifecycles++;
                if (CaseContext.Describe(map.Pages, (byte)(200 + i)) == $"pattern {(byte)(200 + i)}") verified++;
                else problems.Add($"{import.Id}: contents differ through the grants");
                await client.UnmapAsync(map.Id);
                await client.ReleaseImportAsync(import.Id);
            }

            var status = await client.SnapshotAsync();
            result["liveAtEnd"] = status.LiveLifecycles;
            if (status.LiveLifecycles != 0) problems.Add($"{status.LiveLifecycles} lifecycle(s) still live at the end");
            foreach (var grant in grants)
            {
                try { allocator.Deallocate(grant); }
                catch (GntdevException e) { problems.Add($"gntalloc deallocation failed: {e.Message}"); }
            }
        }

        await host.StopAsync();
        host.Dispose();
        // Pooled connections keep the journal's write-ahead log open; closing them folds it into the file.
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        int fdsAtEnd = target.OpenFdCount();
        if (fdsAtEnd != fdsAtStart) problems.Add($"{fdsAtEnd - fdsAtStart} descriptor(s) more than at the start");
        if (verified != Framebuffers + 2) problems.Add($"{verified} of {Framebuffers + 2} buffers showed their frontend's pattern");
        result["totalSeconds"] = Math.Round(clock.Elapsed.TotalSeconds, 1);
        result["lifecycles"] = lifecycles;
        result["verified"] = verified;
        result["fdDelta"] = fdsAtEnd - fdsAtStart;
        result["problems"] = problems;
        return problems.Count == 0;
    }

    private sealed record ExportedBufferHandle(BufferActors.Actors.Lifecycles.ExportedBuffer.Exported Export, int DeviceFd, byte Pattern);
}
