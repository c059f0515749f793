using System.Collections.Concurrent;
using System.Diagnostics;
using BufferActors.Actors;
using BufferActors.Actors.Lifecycles;
using BufferActors.Actors.Persistence;
using BufferActors.Native;
using BufferActors.Native.Simulation;
using BufferActors.Native.Simulation.Remote;
using BufferActors.Tests.Journaled;
using BufferActors.Tests.Persistence;
using Microsoft.Data.Sqlite;

namespace BufferActors.Tests.Recovery;

/// <summary>
/// Recovery and reconciliation against a real process death. The test serves a simulator in-process
/// on a Unix socket (frontend d1 grants its pages directly on the <see cref="XenSimulator"/>), runs a
/// journaled host as a child process (<c>bufferactors-campaigns crash-target</c>: <c>AddBufferActors</c> with the
/// remote device and a SQLite journal) up to a point of a lifecycle, SIGKILLs it there, and restarts a
/// host in-process on the same journal with a new connection (a new device instance). The restart must
/// reclaim exactly what was live, adopt nothing, name the frontends to tell, leave nothing live in the
/// journal, and leave the kernel's share untouched: what the kernel keeps after the death (an export a
/// device holds, a ref the frontend still maps) is still there until its holder lets go, and then the
/// ledger is back at baseline with the frontend able to end every grant.
/// </summary>
public sealed class KillAndRestartTests : IDisposable
{
    private static readonly DomainId Dom1 = new(1);
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(5);
    // A child is a fresh `dotnet` with Akka, Akka.Persistence.Sql and SQLite to load: allow for a busy machine.
    private static readonly TimeSpan StartBound = TimeSpan.FromSeconds(20);

    private readonly XenSimulator _sim = new(new SimulatorOptions { Seed = 7 });
    private readonly SimulatorLedger _baseline;
    private readonly SimulatedDomain _frontend;
    private readonly SimulatorServer _server;
    private readonly string _socket = Path.Combine(Path.GetTempPath(), $"ba-kr-{Guid.NewGuid():N}"[..18] + ".sock");
    private readonly string _journal = Path.Combine(Path.GetTempPath(), $"ba-kill-{Guid.NewGuid():N}.db");
    private readonly JournalStorage _storage;
    private ChildHost? _child;

    public KillAndRestartTests()
    {
        _baseline = _sim.Ledger();
        _frontend = _sim.CreateDomain(1);
        _server = new SimulatorServer(_sim, _socket);
        _server.Start();
        _storage = new JournalStorage.Sqlite(_journal);
    }

    /// <summary>What each point leaves behind: what the restart reclaims, and what the kernel keeps after the death.</summary>
    /// <param name="Reclaimed">Kinds of the lifecycles live in the journal at the kill, all reclaimed.</param>
    /// <param name="DisplayHolds">The display still holds the export (its attachment outlives the process).</param>
    /// <param name="ReservationLowered">The export is DMA-backed: dom0's reservation stays lowered while it lives.</param>
    /// <param name="FrontendMapsImport">The frontend maps one imported ref across the kill: the kernel defers its end-access.</param>
    /// <param name="ImportReleasedByKill">The import was live at the kill: the gntdev file's close released it, so its frontend must hear of it.</param>
    private sealed record Expectation(LifecycleKind[] Reclaimed, bool DisplayHolds, bool ReservationLowered, bool FrontendMapsImport, bool ImportReleasedByKill = false)
    {
        /// <summary>Frontends are told about exports and imports that died with the host, not about maps (nothing of theirs was handed out).</summary>
        public DomainId[] FrontendsToTell => ImportReleasedByKill || Reclaimed.Any(k => k != LifecycleKind.Map) ? [Dom1] : [];
    }

    private static Expectation Expect(string point) => point switch
    {
        // The kernel closed the only fd; nothing held the buffer, so it is released with the process.
        "exported" => new([LifecycleKind.Export], DisplayHolds: false, ReservationLowered: false, FrontendMapsImport: false),
        "attached" => new([LifecycleKind.Export], DisplayHolds: true, ReservationLowered: false, FrontendMapsImport: false),
        // Releasing (one attachment pending) is still live in the journal: reclaimed like an attached export.
        "releasing" => new([LifecycleKind.Export], DisplayHolds: true, ReservationLowered: false, FrontendMapsImport: false),
        "dma-export" => new([LifecycleKind.Export], DisplayHolds: true, ReservationLowered: true, FrontendMapsImport: false),
        "mapped" => new([LifecycleKind.Map], DisplayHolds: false, ReservationLowered: false, FrontendMapsImport: false),
        // The kernel released the import with the gntdev file: the ref the frontend maps is deferred, and the restart
        // journals and watches it instead of reclaiming the import.
        "imported" => new([], DisplayHolds: false, ReservationLowered: false, FrontendMapsImport: true, ImportReleasedByKill: true),
        // Released before the kill with the ref deferred (journaled): the restart watches it on.
        "deferred" => new([], DisplayHolds: false, ReservationLowered: false, FrontendMapsImport: true),
        _ => throw new ArgumentException($"no expectation for point '{point}'", nameof(point)),
    };

    [Theory]
    [InlineData("exported")]
    [InlineData("attached")]
    [InlineData("releasing")]
    [InlineData("dma-export")]
    [InlineData("mapped")]
    [InlineData("imported")]
    [InlineData("deferred")]
    public async Task AHostKilledMidLifecycle_IsReclaimedOnRestart_AndTheLedgerComesBackWhenTheHoldersLetGo(string point)
    {
        var expect = Expect(point);
        var refs = _frontend.GrantPages(DomainId.Dom0, _frontend.AllocatePages(2), 2);

        // 1. The host runs in its own process up to the point.
        _child = ChildHost.Start("crash-target", "--socket", _socket, "--journal", _journal, "--point", point,
            "--domain", "1", "--refs", string.Join(",", refs));
        int? frontendMap = null;
        uint[] imported = [];
        if (expect.FrontendMapsImport)
        {
            imported = _child.WaitForLine("imported ", StartBound).Split(' ')[1].Split(',').Select(uint.Parse).ToArray();
            Assert.Equal(2, imported.Length);
            frontendMap = _frontend.MapForeign(DomainId.Dom0, imported[0]); // the frontend maps one imported ref, and keeps it
            _child.WriteLine("go");
        }
        var ready = _child.WaitForLine($"ready {point} ", expect.FrontendMapsImport ? Bound : StartBound);
        string printedId = Detail(ready, "id");
        if (point == "deferred") Assert.Equal(1, _sim.Ledger().DeferredRefs); // killed during the deferred end-access

        // 2. SIGKILL: no cleanup in the host; the server exits its simulated process as the kernel would.
        _child.Kill();
        Assert.True(_server.WaitForClosedConnections(1, Bound), "the server never saw the killed host's connection end");
        AssertKernelKeeps(expect, refs, afterKill: true);

        // 3. Restart in-process on the same journal, on a new connection: a new device instance.
        using (var gntdev = RemoteGrantDevice.Connect(_socket))
        {
            var session = new DeviceSession(gntdev);
            await using var host = new JournaledHost(session, _storage.ToConfig());
            var report = await host.RecoveryAsync();
            Assert.True(report.EventsRecovered > 0, "the restart recovered no events");
            Assert.Empty(report.Adopted); // the device instance died with the process
            Assert.Equal(expect.Reclaimed, report.Reclaimed.Select(r => r.Id.Kind).ToArray());
            Assert.All(report.Reclaimed, r => Assert.False(string.IsNullOrWhiteSpace(r.Reason)));
            if (expect.Reclaimed.Length > 0) Assert.Equal(printedId, Assert.Single(report.Reclaimed).Id.ToString());
            Assert.Equal(expect.FrontendsToTell, report.FrontendsToTell.ToArray());
            if (expect.FrontendMapsImport)
            {
                // Nothing deferred is forgotten: the import whose ref the frontend still maps is in the report, live in
                // the journal and in the status, with that ref, until the frontend unmaps it.
                var deferred = Assert.Single(report.Deferred);
                Assert.Equal(printedId, deferred.Id.ToString());
                Assert.Equal([imported[0]], deferred.Refs);
                await host.Client.FlushJournalAsync(); // the restart journals the deferral as it journals reclaims
                Assert.Equal(deferred.Id, Assert.Single((await host.LiveAsync()).Lifecycles).Id);
                Assert.Same(ImportState.Deferred, (await host.LiveAsync()).Lifecycles[0].State);
                Assert.Equal(deferred.Id, Assert.Single((await host.Client.SnapshotAsync()).Deferred).Id);
                AssertKernelKeeps(expect, refs, afterKill: false);
                _frontend.UnmapForeign(frontendMap!.Value);
                frontendMap = null;
                _sim.Tick(); // the deferred end-access is retried and succeeds
                Assert.Single(session.ReapEndedAccess()); // as the manager's reap timer does
                Assert.Empty((await host.Client.SnapshotAsync()).Deferred);
            }
            else Assert.Empty(report.Deferred);
            await AwaitNothingLive(host);
            // Reconciliation is journal-only: the restart itself released nothing the kernel keeps.
            if (!expect.FrontendMapsImport) AssertKernelKeeps(expect, refs, afterKill: false);
        }
        Assert.True(_server.WaitForClosedConnections(2, Bound), "the restarted host's connection did not end");
        Assert.Equal(expect.Reclaimed.Length, CountReclaimedEvents());

        // 4. The holders let go; then the frontend can end every grant and nothing is left.
        foreach (var attachment in _server.DeviceAttachments)
        {
            Assert.Equal("display", attachment.Device);
            _server.DetachDevice(attachment.Id);
        }
        if (frontendMap is { } handle)
        {
            _frontend.UnmapForeign(handle);
            _sim.Tick(); // the deferred end-access is retried and succeeds
        }
        foreach (var r in refs) Assert.True(_frontend.EndAccess(r), $"d1 ref {r} is still mapped after every holder let go");
        Assert.Empty(_sim.Violations);
        Assert.Empty(_sim.Ledger().DifferencesFrom(_baseline));
    }

    /// <summary>The kernel's share after the death: only what a device or the frontend still holds.</summary>
    private void AssertKernelKeeps(Expectation expect, uint[] refs, bool afterKill)
    {
        var ledger = _sim.Ledger();
        if (afterKill) Assert.Equal(_baseline.OpenFds, ledger.OpenFds); // every fd of the dead process is closed
        Assert.Equal(0, ledger.Imports);                                 // imports went with the gntdev file
        Assert.Equal(expect.DisplayHolds ? 1 : 0, ledger.Exports);
        Assert.Equal(expect.DisplayHolds ? 1 : 0, ledger.Maps);          // only the map behind a held export
        Assert.Equal(expect.DisplayHolds ? 1 : 0, _server.DeviceAttachments.Count);
        Assert.Equal(expect.DisplayHolds, _frontend.IsInUse(refs[0]));
        Assert.Equal(expect.DisplayHolds, _frontend.IsInUse(refs[1]));
        Assert.Equal(expect.FrontendMapsImport ? 1 : 0, ledger.DeferredRefs);
        if (expect.ReservationLowered) Assert.NotEqual(_baseline.ReservationByDomain, ledger.ReservationByDomain);
        else Assert.Equal(_baseline.ReservationByDomain, ledger.ReservationByDomain);
    }

    /// <summary>The restart's Reclaimed events are owed to the journal after recovery: once they are durable, nothing is live.</summary>
    private static async Task AwaitNothingLive(JournaledHost host)
    {
        await host.Client.FlushJournalAsync();
        Assert.Empty((await host.LiveAsync()).Lifecycles);
    }

    private int CountReclaimedEvents() => JournalDatabase.Events(new JournalStorage.Sqlite(_journal)).Count(e => e is Reclaimed);

    /// <summary>The value of <c>key=value</c> in a details line.</summary>
    private static string Detail(string line, string key) =>
        line.Split(' ').FirstOrDefault(w => w.StartsWith(key + "=", StringComparison.Ordinal))?[(key.Length + 1)..]
        ?? throw new Xunit.Sdk.XunitException($"no {key}= in '{line}'");

    public void Dispose()
    {
        _child?.Dispose();
        _server.Dispose();
        _sim.Dispose();
        SqliteConnection.ClearAllPools();
        foreach (var file in new[] { _journal, _journal + "-wal", _journal + "-shm" }) File.Delete(file);
    }

    /// <summary>A <c>bufferactors</c> child process (the Host assembly, copied next to the tests), its output read line by line.</summary>
    private sealed class ChildHost : IDisposable
    {
        private readonly Process _process;
        private readonly BlockingCollection<string> _lines = [];
        private readonly ConcurrentQueue<string> _seen = new();
        private readonly ConcurrentQueue<string> _errors = new();
        private readonly Thread _reader;

        private ChildHost(Process process)
        {
            _process = process;
            _process.ErrorDataReceived += (_, e) => { if (e.Data is not null) _errors.Enqueue(e.Data); };
            _process.BeginErrorReadLine();
            _reader = new Thread(() =>
            {
                try
                {
                    while (_process.StandardOutput.ReadLine() is { } line) _lines.Add(line);
                }
                catch (IOException)
                {
                    // The pipe broke with the process.
                }
                finally
                {
                    _lines.CompleteAdding();
                }
            })
            { IsBackground = true, Name = "crash-target-stdout" };
            _reader.Start();
        }

        public static ChildHost Start(params string[] args) => new(HostProcess.StartCampaigns(redirectInput: true, args));

        /// <summary>The first line starting with <paramref name="prefix"/> (bounded); fails with the child's output otherwise.</summary>
        public string WaitForLine(string prefix, TimeSpan timeout)
        {
            var deadline = DateTime.UtcNow + timeout;
            while (true)
            {
                var left = deadline - DateTime.UtcNow;
                if (left <= TimeSpan.Zero || !_lines.TryTake(out var line, left)) break;
                _seen.Enqueue(line);
                if (line.StartsWith(prefix, StringComparison.Ordinal)) return line;
            }
            bool exited = _process.WaitForExit(500);
            throw new Xunit.Sdk.XunitException(
                $"bufferactors-campaigns crash-target never printed '{prefix}…' within {timeout.TotalSeconds:0} s " +
                $"({(exited ? $"exited with {_process.ExitCode}" : "still running")}; is crash-target registered in tests/Campaigns/Program.cs?)\n" +
                $"stdout:\n{string.Join("\n", _seen)}\nstderr:\n{string.Join("\n", _errors)}");
        }

        public void WriteLine(string line)
        {
            _process.StandardInput.WriteLine(line);
            _process.StandardInput.Flush();
        }

        /// <summary>SIGKILL, and wait (bounded) until the process is gone.</summary>
        public void Kill()
        {
            _process.Kill();
            Assert.True(_process.WaitForExit(Bound), "the killed host did not exit");
        }

        public void Dispose()
        {
            try
            {
                if (!_process.HasExited)
                {
                    _process.Kill(entireProcessTree: true);
                    _process.WaitForExit(Bound);
                }
            }
            catch (InvalidOperationException)
            {
                // Already gone.
            }
            // The reader ends with the child's stdout; only then may the collection it fills go.
            if (_reader.Join(Bound)) _lines.Dispose();
            _process.Dispose();
        }
    }
}
