using System.Text.Json;
using BufferActors.Actors;
using BufferActors.Actors.Persistence;
using BufferActors.Actors.Persistence.Replay;
using BufferActors.Host.Commands;
using BufferActors.Host.Replay;
using BufferActors.Native;
using BufferActors.Native.Simulation;
using Microsoft.Data.Sqlite;

namespace BufferActors.Tests.Replay;

/// <summary><c>replay --simulate</c>: re-executing a journal against the simulator, on the demo's journal and on hand-built ones.</summary>
public sealed class ReexecutionTests(DemoJournalFixture demo) : IClassFixture<DemoJournalFixture>
{
    private static readonly DateTimeOffset T0 = new(2026, 1, 1, 12, 0, 0, TimeSpan.Zero);
    private static readonly Guid Instance1 = Guid.Parse("6f1d2c1e-0000-4000-8000-000000000001");
    private static readonly Guid Instance2 = Guid.Parse("6f1d2c1e-0000-4000-8000-000000000002");
    private static readonly DomainId D1 = new(1);

    private static LifecycleId Id(LifecycleKind kind, long sequence) => new(kind, D1, sequence);

    private static List<JournalEntry> Journal(params LifecycleEvent[] events) =>
        [.. events.Select((e, i) => new JournalEntry(i + 1, e))];

    private static SimulatorLedger Baseline()
    {
        using var fresh = new XenSimulator();
        return fresh.Ledger();
    }

    private static void AssertClean(ReexecutionResult result)
    {
        Assert.True(result.Divergences.Count == 0, string.Join("\n", result.Divergences));
        Assert.Empty(result.Violations);
        var diffs = result.Ledger.DifferencesFrom(Baseline());
        Assert.True(diffs.Count == 0, string.Join("\n", diffs));
    }

    private Task<IReadOnlyList<JournalEntry>> DemoEntries() => JournalReader.ReadAsync(new JournalStorage.Sqlite(demo.JournalPath));

    [Fact]
    public async Task TheDemoJournalReExecutesWithoutDivergenceAndEndsAtZero()
    {
        var result = JournalReexecution.Run(await DemoEntries(), seed: 0);

        AssertClean(result);
        Assert.True(result.Notes.Count == 0, string.Join("\n", result.Notes));
        // 6 exports, each attached, detached, then closed and probed.
        Assert.Equal(24, result.Operations);
    }

    [Fact]
    public async Task ADoctoredExportFdIsTheOneDivergenceAtItsSequenceNumber()
    {
        var entries = (await DemoEntries()).ToList();
        int index = entries.FindIndex(e => e.Event is Exported { Id.Domain.Value: 2 });
        var original = (Exported)entries[index].Event;
        entries[index] = entries[index] with { Event = original with { Fd = original.Fd + 10 } };

        var result = JournalReexecution.Run(entries, seed: 0);

        var divergence = Assert.Single(result.Divergences);
        Assert.Equal(entries[index].SequenceNr, divergence.SequenceNr);
        Assert.Equal(original.Id, divergence.Lifecycle);
        Assert.Equal("exported", divergence.Operation);
        Assert.Equal($"fd {original.Fd + 10}, {original.PageCount} pages", divergence.Expected);
        Assert.Equal($"fd {original.Fd}, {original.PageCount} pages", divergence.Actual);
        Assert.True(result.Ledger.IsAtBaseline(Baseline())); // the re-run's own fd is used afterwards: nothing cascades
    }

    [Fact]
    public async Task TheCommandReportsTheFirstDivergenceAndExitsThree()
    {
        string path = demo.CopyJournal("doctored.db");
        // The event's number in the journal (what replay names it by), then its row, doctored in place: a row holds a batch.
        var doctored = (await JournalReader.ReadAsync(new JournalStorage.Sqlite(path))).Single(e => e.Event is Exported && e.Event.Id == new LifecycleId(LifecycleKind.Export, new DomainId(2), 5));
        long sequence = doctored.SequenceNr;
        int recordedFd = ((Exported)doctored.Event).Fd;
        using (var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Pooling = false }.ToString()))
        {
            connection.Open();
            using var find = connection.CreateCommand();
            find.CommandText = "SELECT sequence_number, cast(message AS text) FROM journal WHERE cast(message AS text) LIKE '%\"$e\":\"exported\"%' AND cast(message AS text) LIKE '%export:2:5%'";
            long row;
            System.Text.Json.Nodes.JsonArray batch;
            using (var reader = find.ExecuteReader())
            {
                Assert.True(reader.Read());
                row = reader.GetInt64(0);
                batch = System.Text.Json.Nodes.JsonNode.Parse(reader.GetString(1))!.AsArray();
            }
            var exported = batch.Single(e => (string?)e!["$e"] == "exported" && (string?)e["id"] == "export:2:5")!;
            Assert.Equal(recordedFd, (int)exported["fd"]!);
            exported["fd"] = 42;
            using var update = connection.CreateCommand();
            update.CommandText = "UPDATE journal SET message = $m WHERE sequence_number = $row";
            update.Parameters.AddWithValue("$m", System.Text.Encoding.UTF8.GetBytes(batch.ToJsonString()));
            update.Parameters.AddWithValue("$row", row);
            Assert.Equal(1, update.ExecuteNonQuery());
        }

        var output = new StringWriter();
        var error = new StringWriter();
        int exit = await ReplayCommand.RunAsync(["--journal", path, "--simulate", "--seed", "3"], output, error);

        Assert.True(exit == ReplayCommand.Diverged, $"exit {exit}: {error}\n{output}");
        string text = output.ToString();
        Assert.Contains("re-executed 24 operations, 1 divergences", text, StringComparison.Ordinal);
        Assert.Contains($"first divergence at sequence {sequence}: export:2:5 exported: recorded fd 42, ", text, StringComparison.Ordinal);
        Assert.Contains($", re-run fd {recordedFd}, ", text, StringComparison.Ordinal);
        Assert.Contains("Ledger at the end: maps 0,", text, StringComparison.Ordinal);

        output = new StringWriter();
        exit = await ReplayCommand.RunAsync(["--journal", path, "--simulate", "--seed", "3", "--json"], output, error);
        Assert.Equal(ReplayCommand.Diverged, exit);
        using var json = JsonDocument.Parse(output.ToString());
        var simulate = json.RootElement.GetProperty("simulate");
        Assert.Equal(3, simulate.GetProperty("seed").GetInt32());
        Assert.Equal(24, simulate.GetProperty("operations").GetInt32());
        var divergence = Assert.Single(simulate.GetProperty("divergences").EnumerateArray().ToList());
        Assert.Equal(sequence, divergence.GetProperty("sequenceNr").GetInt64());
        Assert.Equal("export:2:5", divergence.GetProperty("lifecycle").GetString());
        Assert.Equal(0, simulate.GetProperty("ledger").GetProperty("openFds").GetInt32());
    }

    [Fact]
    public async Task TheCleanDemoJournalExitsZeroWithSimulate()
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int exit = await ReplayCommand.RunAsync(["--journal", demo.JournalPath, "--simulate"], output, error);

        Assert.True(exit == ReplayCommand.Ok, $"exit {exit}: {error}\n{output}");
        Assert.Contains("re-executed 24 operations, 0 divergences", output.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task TheSameSeedGivesTheSameResult()
    {
        var entries = (await DemoEntries()).ToList();
        // Make it interesting: one doctored fd, so there is a divergence to reproduce.
        int index = entries.FindIndex(e => e.Event is Exported);
        entries[index] = entries[index] with { Event = (Exported)entries[index].Event with { Fd = 99 } };

        var first = JournalReexecution.Run(entries, seed: 11);
        var second = JournalReexecution.Run(entries, seed: 11);

        Assert.Equal(first.Operations, second.Operations);
        Assert.Equal(first.Divergences, second.Divergences);
        Assert.Equal(first.Notes, second.Notes);
        Assert.Equal(first.Ledger, second.Ledger);
        Assert.Equal(first.Violations, second.Violations);
        Assert.Single(first.Divergences);
    }

    [Fact]
    public void ARecordedFailureThatReRunsAsASuccessIsADivergence()
    {
        var good = Id(LifecycleKind.Export, 1);
        var refusedButFine = Id(LifecycleKind.Export, 2);
        var refusedBadRef = Id(LifecycleKind.Export, 3);
        var entries = Journal(
            new ExportRequested(good, T0, [8, 9], DmaBufFlags.None),
            new Exported(good, T0, 4, 2, Instance1),
            // Recorded as refused, but its refs are granted (export 1 used them): the re-run succeeds.
            new ExportRequested(refusedButFine, T0, [8, 9], DmaBufFlags.None),
            new Failed(refusedButFine, T0, ErrorCode.Device, "refused", Errno.EINVAL),
            // Ref 12 appears only in a refused request: the frontend does not grant it, so the re-run is refused too.
            new ExportRequested(refusedBadRef, T0, [12], DmaBufFlags.None),
            new Failed(refusedBadRef, T0, ErrorCode.Device, "a grant failed to map", Errno.EINVAL),
            new ReleaseRequested(good, T0),
            new Released(good, T0));

        var result = JournalReexecution.Run(entries);

        var divergence = Assert.Single(result.Divergences);
        Assert.Equal(4, divergence.SequenceNr);
        Assert.Equal(refusedButFine, divergence.Lifecycle);
        Assert.Equal("failed", divergence.Operation);
        Assert.Equal("failed: EINVAL (22)", divergence.Expected);
        Assert.Equal("exported fd 5, 2 pages", divergence.Actual);
        Assert.Empty(result.Violations);
        Assert.True(result.Ledger.IsAtBaseline(Baseline()), string.Join("\n", result.Ledger.DifferencesFrom(Baseline())));
    }

    [Fact]
    public void ARecordedErrnoThatDiffersIsADivergence()
    {
        var refused = Id(LifecycleKind.Export, 1);
        var entries = Journal(
            new ExportRequested(refused, T0, [12], DmaBufFlags.None),
            new Failed(refused, T0, ErrorCode.Device, "refused", Errno.ENOMEM));

        var divergence = Assert.Single(JournalReexecution.Run(entries).Divergences);

        Assert.Equal("failed: ENOMEM (12)", divergence.Expected);
        Assert.StartsWith("failed: EINVAL (22)", divergence.Actual, StringComparison.Ordinal);
    }

    [Fact]
    public void MapsImportsAndAReclaimReExecuteCleanly()
    {
        var export = Id(LifecycleKind.Export, 1);
        var map = Id(LifecycleKind.Map, 2);
        var import = Id(LifecycleKind.Import, 3);
        var afterRestart = Id(LifecycleKind.Export, 4);
        var entries = Journal(
            new ExportRequested(export, T0, [8, 9, 10], DmaBufFlags.WriteCombine),
            new Exported(export, T0, 4, 3, Instance1),
            new ReservationDecreased(export, T0, 3),
            new Attached(export, T0, "display", DmaDirection.ToDevice),
            new MapRequested(map, T0, [11, 12], true),
            new Mapped(map, T0, 0, Instance1),
            new ImportRequested(import, T0, 5, 2),
            new Granted(import, T0, [8, 9], Instance1),
            new ReleaseRequested(import, T0),
            new AccessEnded(import, T0),
            new ReleaseRequested(map, T0),
            new Unmapped(map, T0),
            // The host dies with the export attached; the next start reclaims it and exports again on a new instance.
            new Reclaimed(export, T0, "the old gntdev instance is gone"),
            new ExportRequested(afterRestart, T0, [8, 9], DmaBufFlags.None),
            new Exported(afterRestart, T0, 4, 2, Instance2),
            new ReleaseRequested(afterRestart, T0),
            new Released(afterRestart, T0));

        var result = JournalReexecution.Run(entries);

        AssertClean(result);
        Assert.True(result.Notes.Count == 0, string.Join("\n", result.Notes));
    }

    [Fact]
    public void AReleaseWhileAConsumerIsStillAttachedIsADivergence()
    {
        var export = Id(LifecycleKind.Export, 1);
        var entries = Journal(
            new ExportRequested(export, T0, [8], DmaBufFlags.None),
            new Exported(export, T0, 4, 1, Instance1),
            new Attached(export, T0, "display", DmaDirection.ToDevice),
            new ReleaseRequested(export, T0),
            new Released(export, T0),
            new Detached(export, T0, "display"));

        var result = JournalReexecution.Run(entries);

        var divergence = Assert.Single(result.Divergences);
        Assert.Equal(5, divergence.SequenceNr);
        Assert.Equal("not released: display still attached", divergence.Actual);
        Assert.True(result.Ledger.IsAtBaseline(Baseline())); // the late detach released it
    }
}
