using Akka.Configuration;
using BufferActors.Actors;
using BufferActors.Actors.Api;
using BufferActors.Actors.Lifecycles;
using BufferActors.Actors.Persistence;
using BufferActors.Actors.Persistence.Replay;
using BufferActors.Native;
using BufferActors.Native.Simulation;
using BufferActors.Tests.Persistence;
using Microsoft.Data.Sqlite;

namespace BufferActors.Tests.Journaled;

/// <summary>Lifecycles journaled to a SQLite file: acknowledged means journaled; restarts adopt or reclaim.</summary>
public sealed class JournaledLifecycleTests : IDisposable
{
    private static readonly DomainId Dom1 = new(1);
    private readonly string _path = Path.Combine(Path.GetTempPath(), $"ba-journal-{Guid.NewGuid():N}.db");
    private readonly XenSimulator _sim = new(new SimulatorOptions { Seed = 11 });
    private readonly SimulatorLedger _baseline;
    private readonly SimulatedDomain _frontend;
    private readonly JournalStorage _storage;

    public JournaledLifecycleTests()
    {
        _baseline = _sim.Ledger();
        _frontend = _sim.CreateDomain(1);
        _storage = new JournalStorage.Sqlite(_path);
        _storage.Prepare();
    }

    private Config JournalConfig => _storage.ToConfig();

    [Fact]
    public async Task EveryAcknowledgedStepIsInTheJournal_AndAFinishedLifecycleIsNotLiveAfterRestart()
    {
        var refs = _frontend.GrantPages(DomainId.Dom0, _frontend.AllocatePages(4), 4);
        var gntdev = _sim.OpenGrantDevice();
        var session = new DeviceSession(gntdev);
        await using (var host = new JournaledHost(session, JournalConfig))
        {
            var export = await host.Client.ExportAsync(Dom1, refs, DmaBufFlags.WriteCombine);
            Assert.Equal(3, CountEvents()); // requested, exported, reservation decreased: durable before the reply
            await host.Client.AttachAsync(export.Id, "display", DmaDirection.ToDevice);
            Assert.Equal(4, CountEvents());
            var live = Assert.Single((await host.LiveAsync()).Lifecycles);
            Assert.Equal("display", Assert.Single(live.Attachments).Key);
            Assert.Equal(4, live.ReservationPages);
            await host.Client.DetachAsync(export.Id, "display");
            await host.Client.ReleaseAsync(export.Id);
            Assert.NotEqual(WaitReleasedResult.TimedOut, await host.Client.WaitReleasedAsync(export.Id, TimeSpan.FromSeconds(5)));
        }
        await using (var restarted = new JournaledHost(new DeviceSession(gntdev), JournalConfig))
        {
            var live = await restarted.LiveAsync();
            Assert.Empty(live.Lifecycles);
            Assert.Equal(2, live.NextSequence); // ids continue after a restart
            var report = await restarted.RecoveryAsync();
            Assert.Empty(report.Reclaimed);
            Assert.Empty(report.Adopted);
        }
        Assert.Contains(Kinds(), k => k == "released");
        Assert.Contains(Kinds(), k => k == "reservation-restored");
        gntdev.Dispose();
        EndGrants(refs);
        AssertAtBaseline();
    }

    [Fact]
    public async Task AfterTheHostProcessDies_ARestartReclaimsWhatDiedWithIt_AndReportsTheFrontends()
    {
        var refs = _frontend.GrantPages(DomainId.Dom0, _frontend.AllocatePages(6), 6);
        var process = _sim.StartProcess("backend-1");
        var gntdev = _sim.OpenGrantDevice(process);
        var display = _sim.AddDevice("display");
        var camera = _sim.AddDevice("camera");
        DmaBufAttachment scanout;
        await using (var host = new JournaledHost(new DeviceSession(gntdev), JournalConfig))
        {
            var export = await host.Client.ExportAsync(Dom1, refs[..4], DmaBufFlags.Coherent);
            scanout = display.Attach(process, export.Fd);
            await host.Client.AttachAsync(export.Id, "display", DmaDirection.ToDevice);
            int fd = camera.AllocateBuffer(process, 2);
            await host.Client.ImportAsync(Dom1, fd, 2);
            await host.Client.MapAsync(Dom1, refs[4..]);
            Assert.Equal(3, (await host.LiveAsync()).Lifecycles.Count);

            process.Exit(); // SIGKILL: the kernel closes everything the process held
        }

        var process2 = _sim.StartProcess("backend-2");
        var gntdev2 = _sim.OpenGrantDevice(process2);
        await using (var restarted = new JournaledHost(new DeviceSession(gntdev2), JournalConfig))
        {
            var report = await restarted.RecoveryAsync();
            Assert.Equal(3, report.Reclaimed.Count);
            Assert.Empty(report.Adopted);
            Assert.Equal([Dom1], report.FrontendsToTell);
            await AwaitEmptyLive(restarted);
        }
        Assert.Equal(3, Kinds().Count(k => k == "reclaimed"));

        Assert.Equal(1, _sim.Ledger().Exports); // the display still holds the export
        scanout.Detach();
        gntdev2.Dispose();
        EndGrants(refs);
        AssertAtBaseline();
    }

    [Fact]
    public async Task AHostStoppedRightAfterItsRecovery_StillJournalsWhatItReclaimed()
    {
        var refs = _frontend.GrantPages(DomainId.Dom0, _frontend.AllocatePages(2), 2);
        var process = _sim.StartProcess("backend-1");
        await using (var host = new JournaledHost(new DeviceSession(_sim.OpenGrantDevice(process)), JournalConfig))
        {
            await host.Client.MapAsync(Dom1, refs);
            process.Exit();
        }

        // The reclaim is the only write of the restarted host; the storage takes its time with it.
        var slowWrites = new LifecycleJournal.Settings(Faults: events =>
        {
            if (events.Any(e => e is Reclaimed)) Thread.Sleep(300);
            return JournalWriteFault.None;
        });
        var gntdev2 = _sim.OpenGrantDevice(_sim.StartProcess("backend-2"));
        await using (var restarted = new JournaledHost(new DeviceSession(gntdev2), JournalConfig, journalSettings: slowWrites))
        {
            Assert.Single((await restarted.RecoveryAsync()).Reclaimed);
        } // stopped at once: the shutdown waits for the owed event

        Assert.Equal(1, Kinds().Count(k => k == "reclaimed"));
        gntdev2.Dispose();
        EndGrants(refs);
        AssertAtBaseline();
    }

    [Fact]
    public async Task WhenTheDeviceInstanceSurvivedARestart_ItsLiveLifecyclesAreAdoptedAndFinishNormally()
    {
        var refs = _frontend.GrantPages(DomainId.Dom0, _frontend.AllocatePages(3), 3);
        var process = _sim.StartProcess("backend");
        var gntdev = _sim.OpenGrantDevice(process);
        var fenced = new FencedDevice(gntdev);
        var instance = Guid.NewGuid();
        var display = _sim.AddDevice("display");
        ExportedBufferLifecycle adoptedId;
        DmaBufAttachment scanout;
        await using (var host = new JournaledHost(new DeviceSession(fenced, instance), JournalConfig))
        {
            var export = await host.Client.ExportAsync(Dom1, refs, DmaBufFlags.WriteCombine);
            scanout = display.Attach(process, export.Fd);
            await host.Client.AttachAsync(export.Id, "display", DmaDirection.ToDevice);
            adoptedId = new(export.Id, export.Fd);
            fenced.Fence(); // the old host's actors die without touching the device
        }

        await using (var restarted = new JournaledHost(new DeviceSession(gntdev, instance), JournalConfig))
        {
            var report = await restarted.RecoveryAsync();
            Assert.Equal([adoptedId.Id], report.Adopted);
            Assert.Empty(report.Reclaimed);
            var status = await restarted.Client.StatusAsync(adoptedId.Id);
            Assert.Equal(adoptedId.Fd, status.Fd);
            Assert.Equal(1, status.Attachments);

            var accepted = await restarted.Client.ReleaseAsync(adoptedId.Id);
            Assert.Equal(1, accepted.PendingAttachments);
            scanout.Detach();
            await restarted.Client.DetachAsync(adoptedId.Id, "display");
            Assert.NotEqual(WaitReleasedResult.TimedOut, await restarted.Client.WaitReleasedAsync(adoptedId.Id, TimeSpan.FromSeconds(5)));
            await AwaitEmptyLive(restarted);
        }
        gntdev.Dispose();
        EndGrants(refs);
        AssertAtBaseline();
    }

    [Fact]
    public async Task AnImportAdoptedAfterARestart_IsReleasedByItsOwnNumber_NeverByTheCallersReusedOne()
    {
        var dom2 = new DomainId(2);
        var frontend2 = _sim.CreateDomain(2);
        var process = _sim.StartProcess("backend");
        var gntdev = _sim.OpenGrantDevice(process);
        var fenced = new FencedDevice(gntdev);
        var instance = Guid.NewGuid();
        var camera = _sim.AddDevice("camera");
        int x = camera.AllocateBuffer(process, 2);
        LifecycleId importA;
        uint[] refsA;
        await using (var host = new JournaledHost(new DeviceSession(fenced, instance), JournalConfig))
        {
            var imported = await host.Client.ImportAsync(Dom1, x, 2);
            (importA, refsA) = (imported.Id, [.. imported.Refs]);
            process.Close(x); // the caller lets go of its number at once
            fenced.Fence();
        }

        await using (var restarted = new JournaledHost(new DeviceSession(gntdev, instance), JournalConfig))
        {
            Assert.Equal([importA], (await restarted.RecoveryAsync()).Adopted);
            int y = camera.AllocateBuffer(process, 2);
            Assert.Equal(x, y); // the caller's number came back, for frontend 2's buffer
            var importB = await restarted.Client.ImportAsync(dom2, y, 2);

            await restarted.Client.ReleaseImportAsync(importA);
            var ended = Assert.Throws<GntdevException>(() => _frontend.MapForeign(DomainId.Dom0, refsA[0]));
            Assert.Equal(GrantStatus.BadGntref, ended.GrantStatus); // A's grants are ended
            frontend2.UnmapForeign(frontend2.MapForeign(DomainId.Dom0, importB.Refs[0])); // B's are live

            await restarted.Client.ReleaseImportAsync(importB.Id);
            process.Close(y);
            await AwaitEmptyLive(restarted);
        }
        gntdev.Dispose();
        AssertAtBaseline();
    }

    [Fact]
    public async Task AnExportAdoptedWhileReleasing_KeepsItsNumberTaken_SoNeitherItsWaitNorANewExportMistakesOneForTheOther()
    {
        var dom2 = new DomainId(2);
        var frontend2 = _sim.CreateDomain(2);
        var refs = _frontend.GrantPages(DomainId.Dom0, _frontend.AllocatePages(2), 2);
        var refs2 = frontend2.GrantPages(DomainId.Dom0, frontend2.AllocatePages(2), 2);
        var process = _sim.StartProcess("backend");
        var gntdev = _sim.OpenGrantDevice(process);
        var fenced = new FencedDevice(gntdev);
        var instance = Guid.NewGuid();
        var display = _sim.AddDevice("display");
        ExportedBufferLifecycle a;
        DmaBufAttachment scanout;
        await using (var host = new JournaledHost(new DeviceSession(fenced, instance), JournalConfig))
        {
            var export = await host.Client.ExportAsync(Dom1, refs);
            a = new(export.Id, export.Fd);
            scanout = display.Attach(process, export.Fd); // a holder the lifecycle was not told about
            await host.Client.ReleaseAsync(a.Id);          // gives up its reference: a placeholder holds the number
            fenced.Fence();
        }

        await using (var restarted = new JournaledHost(new DeviceSession(gntdev, instance), JournalConfig))
        {
            Assert.Equal([a.Id], (await restarted.RecoveryAsync()).Adopted);
            var b = await restarted.Client.ExportAsync(dom2, refs2);
            Assert.NotEqual(a.Fd, b.Fd); // A's number is still taken across the restart

            var waitA = restarted.Client.WaitReleasedAsync(a.Id, TimeSpan.FromSeconds(5));
            scanout.Detach();
            Assert.Equal(WaitReleasedResult.Released, await waitA);
            Assert.Equal(WaitReleasedResult.TimedOut, await restarted.Client.WaitReleasedAsync(b.Id, TimeSpan.FromMilliseconds(50)));
            Assert.True(frontend2.IsInUse(refs2[0])); // B is untouched

            await restarted.Client.ReleaseAsync(b.Id);
            Assert.NotEqual(WaitReleasedResult.TimedOut, await restarted.Client.WaitReleasedAsync(b.Id, TimeSpan.FromSeconds(5)));
            await AwaitEmptyLive(restarted);
        }
        gntdev.Dispose();
        EndGrants(refs);
        EndGrants(refs2, frontend2);
        AssertAtBaseline();
    }

    [Fact]
    public async Task AReleaseTheKernelDefers_IsJournaledAndWatched_UntilTheFrontendUnmaps_AndReplayShowsTheDeferredSpan()
    {
        var gntdev = _sim.OpenGrantDevice();
        var session = new DeviceSession(gntdev);
        var camera = _sim.AddDevice("camera");
        LifecycleId importId;
        await using (var host = new JournaledHost(session, JournalConfig))
        {
            int fd = camera.AllocateBuffer(gntdev.Process, 3);
            var import = await host.Client.ImportAsync(Dom1, fd, 3);
            importId = import.Id;
            int held = _frontend.MapForeign(DomainId.Dom0, import.Refs[1]); // the frontend keeps one page mapped

            await host.Client.ReleaseImportAsync(import.Id); // released for the caller and the device...
            Assert.Equal(0, _sim.Ledger().Imports);
            Assert.Equal(1, _sim.Ledger().DeferredRefs);
            var live = Assert.Single((await host.LiveAsync()).Lifecycles); // ...but not forgotten by the journal
            Assert.Same(ImportState.Deferred, live.State);
            Assert.Equal([import.Refs[1]], live.Deferred.ToArray());
            var status = await host.Client.SnapshotAsync();
            Assert.Equal(0, status.LiveLifecycles);
            Assert.Equal(import.Refs[1], Assert.Single(Assert.Single(status.Deferred).Refs));
            Assert.Empty(session.ReapEndedAccess()); // still mapped: nothing ends

            _frontend.UnmapForeign(held);
            _sim.Tick(); // the grant table's retry ends it
            Assert.Equal(import.Id, Assert.Single(session.ReapEndedAccess()));
            await host.Client.FlushJournalAsync();
            Assert.Empty((await host.LiveAsync()).Lifecycles);
            Assert.Empty((await host.Client.SnapshotAsync()).Deferred);
            gntdev.CloseFd(fd); // the caller's own number for the camera's buffer
        }
        Assert.Equal(["import-requested", "granted", "release-requested", "access-deferred", "access-ended"], Kinds());
        var timeline = JournalTimeline.Build(await JournalReader.ReadAsync(_storage));
        var lifecycle = Assert.Single(timeline.Lifecycles);
        Assert.Equal(importId, lifecycle.Id);
        Assert.True(lifecycle.IsFinished);
        Assert.Empty(timeline.Anomalies);
        var deferredSpan = Assert.Single(lifecycle.Spans, span => span.Kind == SpanKind.Deferred);
        Assert.NotNull(deferredSpan.To);
        Assert.Equal(deferredSpan.From, Assert.Single(lifecycle.Spans, span => span.Kind == SpanKind.Granted).To);
        gntdev.Dispose();
        AssertAtBaseline();
    }

    private sealed record ExportedBufferLifecycle(LifecycleId Id, int Fd);

    /// <summary>What the host owed the journal (a restart's reclaims, the ends of stopped lifecycles) is durable, and nothing is live.</summary>
    private static async Task AwaitEmptyLive(JournaledHost host)
    {
        await host.Client.FlushJournalAsync();
        Assert.Empty((await host.LiveAsync()).Lifecycles);
    }

    private int CountEvents() => JournalDatabase.Events(_storage).Count;

    private List<string> Kinds() =>
        [.. JournalDatabase.Events(_storage).Select(JournalVocabulary.EventName)];

    private void EndGrants(uint[] refs, SimulatedDomain? granter = null)
    {
        granter ??= _frontend;
        foreach (var r in refs) Assert.True(granter.EndAccess(r), $"{granter.Id} ref {r} still mapped");
    }

    private void AssertAtBaseline()
    {
        _sim.Tick();
        Assert.Empty(_sim.Violations);
        Assert.Empty(_sim.Ledger().DifferencesFrom(_baseline));
    }

    public void Dispose()
    {
        _sim.Dispose();
        SqliteConnection.ClearAllPools();
        foreach (var f in new[] { _path, _path + "-wal", _path + "-shm" }) File.Delete(f);
    }
}
