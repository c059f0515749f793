using BufferActors.Actors;
using BufferActors.Actors.Persistence;
using BufferActors.Actors.Persistence.Replay;
using BufferActors.Native.Simulation;
using Microsoft.Data.Sqlite;

namespace BufferActors.Tests.Journaled;

/// <summary>
/// A journal written by an earlier build (<c>Fixtures/journal-2026-12.db</c>: every event kind, a snapshot with
/// live lifecycles, a restart that reclaimed them) still replays and still recovers: the journal format is a
/// contract with every host that has one on disk.
/// </summary>
public sealed class JournalFixtureTests : IDisposable
{
    private const string Fixture = "tests/BufferActors.Tests/Fixtures/journal-2026-12.db";
    private readonly string _copy = Path.Combine(Path.GetTempPath(), $"ba-fixture-{Guid.NewGuid():N}.db");

    public JournalFixtureTests() => File.Copy(RepositoryFiles.Path(Fixture), _copy);

    /// <summary>The journal's event names, as written: each one must still be read.</summary>
    private static readonly string[] EveryEventKind =
    [
        "export-requested", "exported", "reservation-decreased", "attached", "detached", "release-requested", "released",
        "reservation-restored", "wait-requested", "wait-answered", "import-requested", "granted", "access-deferred",
        "access-ended", "map-requested", "mapped", "unmapped", "failed", "reclaimed", "quarantined",
    ];

    [Fact]
    public async Task TheFixtureReplays_EveryLifecycleFinished_AndNoAnomaly()
    {
        var entries = await JournalReader.ReadAsync(new JournalStorage.Sqlite(_copy));
        Assert.Equal(34, entries.Count);
        var written = entries.Select(e => System.Text.Json.JsonSerializer.SerializeToElement(e.Event, JournalSerializer.Options).GetProperty("$e").GetString()).ToHashSet();
        Assert.Equal(EveryEventKind.Order(), written.Order());

        var timeline = JournalTimeline.Build(entries);
        Assert.Equal(7, timeline.Lifecycles.Count);
        Assert.Empty(timeline.Live);
        Assert.Empty(timeline.Anomalies);
        Assert.Equal(
            ["Released", "Released", "Failed", "AccessEnded", "Unmapped", "Reclaimed", "Reclaimed"],
            timeline.Lifecycles.Select(l => l.State.Name));
        Assert.Contains(timeline.Lifecycles.Single(l => l.Kind == LifecycleKind.Import).Spans, s => s.Kind == SpanKind.Deferred);
    }

    [Fact]
    public async Task TheFixtureRecovers_FromItsSnapshotAndTheEventsAfterIt()
    {
        var storage = new JournalStorage.Sqlite(_copy);
        storage.Prepare();
        using var sim = new XenSimulator(new SimulatorOptions { Seed = 1 });
        await using var host = new JournaledHost(new DeviceSession(sim.OpenGrantDevice()), storage.ToConfig());
        var report = await host.RecoveryAsync();
        Assert.True(report.FromSnapshot);
        Assert.Equal(2, report.EventsRecovered); // the two reclaims after the snapshot of the two live lifecycles
        Assert.Empty(report.Adopted);
        Assert.Empty(report.Reclaimed);
        var live = await host.LiveAsync();
        Assert.Empty(live.Lifecycles);
        Assert.Equal(8, live.NextSequence); // ids go on after the fixture's
    }

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        foreach (var f in new[] { _copy, _copy + "-wal", _copy + "-shm" }) File.Delete(f);
    }
}
