using System.Text.Json;
using BufferActors.Actors.Persistence;
using BufferActors.Actors.Persistence.Replay;
using BufferActors.Host.Commands;
using BufferActors.Tests.Persistence;
using Microsoft.Data.Sqlite;

namespace BufferActors.Tests.Replay;

/// <summary><c>replay</c> on the demo's journal, and on every kind of unreadable journal: a clear error and exit code 2, never an exception.</summary>
public sealed class ReplayCommandTests(DemoJournalFixture demo) : IClassFixture<DemoJournalFixture>
{
    private static async Task<(int Exit, string Out, string Err)> Replay(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int exit = await ReplayCommand.RunAsync(args, output, error);
        return (exit, output.ToString(), error.ToString());
    }

    [Fact]
    public async Task TheDemoJournalReplaysAsSixFinishedExportsWithoutAnomalies()
    {
        var (exit, stdout, stderr) = await Replay("--journal", demo.JournalPath, "--json");

        Assert.True(exit == 0, $"exit {exit}: {stderr}");
        using var json = JsonDocument.Parse(stdout); // exactly one JSON document: Parse fails on anything after it
        var root = json.RootElement;
        var lifecycles = root.GetProperty("lifecycles").EnumerateArray().ToList();
        Assert.Equal(6, lifecycles.Count);
        Assert.All(lifecycles, l =>
        {
            Assert.Equal("export", l.GetProperty("kind").GetString());
            Assert.True(l.GetProperty("finished").GetBoolean(), l.GetProperty("id").GetString());
            Assert.Equal("Released", l.GetProperty("state").GetString());
            Assert.True(l.GetProperty("events").GetInt32() >= 7);
            Assert.Contains(l.GetProperty("spans").EnumerateArray(), s => s.GetProperty("kind").GetString() == "attached");
        });
        Assert.Empty(root.GetProperty("live").EnumerateArray());
        Assert.True(root.GetProperty("anomalies").GetArrayLength() == 0, root.GetProperty("anomalies").ToString());

        // The crashed frontend (d2) had three exports; the domain's death released each of them.
        var crashed = lifecycles.Where(l => l.GetProperty("domain").GetInt32() == 2).ToList();
        Assert.Equal(3, crashed.Count);
        Assert.All(crashed, l => Assert.Equal("Released", l.GetProperty("state").GetString()));
        Assert.Equal(3, lifecycles.Count(l => l.GetProperty("domain").GetInt32() == 1));
        Assert.Equal(0, root.GetProperty("totals").GetProperty("anomalies").GetInt32());
    }

    [Fact]
    public async Task TheDefaultOutputIsATableWithAnomaliesAndTotals()
    {
        var (exit, stdout, stderr) = await Replay("--journal", demo.JournalPath);

        Assert.True(exit == 0, $"exit {exit}: {stderr}");
        Assert.Contains("lifecycle", stdout, StringComparison.Ordinal);
        Assert.Contains("d2/export-4", stdout, StringComparison.Ordinal);
        Assert.Contains("Anomalies: none", stdout, StringComparison.Ordinal);
        Assert.Contains("Totals: 6 lifecycles (6 export), 6 finished, 0 live, 0 anomalies", stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AJournalWithAnomaliesStillExitsZeroAndListsThem()
    {
        // Cut the journal just before export 1's last events: it never finished, its wait-free release never came.
        string path = demo.CopyJournal("live.db");
        long cut;
        using (var connection = Open(path))
        {
            cut = Scalar<long>(connection, "SELECT min(sequence_number) FROM journal WHERE cast(message AS text) LIKE '%\"$e\":\"released\"%' AND cast(message AS text) LIKE '%export:1:1%'");
            Execute(connection, $"DELETE FROM journal WHERE sequence_number >= {cut} AND cast(message AS text) LIKE '%export:1:1%'");
        }

        var (exit, stdout, stderr) = await Replay("--journal", path, "--json");

        Assert.True(exit == 0, $"exit {exit}: {stderr}");
        using var json = JsonDocument.Parse(stdout);
        Assert.Equal(["export:1:1"], json.RootElement.GetProperty("live").EnumerateArray().Select(e => e.GetString()));
        var kinds = json.RootElement.GetProperty("anomalies").EnumerateArray().Select(a => a.GetProperty("kind").GetString()).ToList();
        Assert.Contains("NeverFinished", kinds);
        Assert.All(json.RootElement.GetProperty("anomalies").EnumerateArray(), a => Assert.Equal("export:1:1", a.GetProperty("lifecycle").GetString()));
    }

    [Fact]
    public async Task RandomBytesAreNotASqliteDatabase()
    {
        string path = demo.NewPath("random.db");
        var bytes = new byte[16 * 1024];
        new Random(7).NextBytes(bytes);
        await File.WriteAllBytesAsync(path, bytes);

        await AssertUnreadable(path, "not a SQLite database");
    }

    [Fact]
    public async Task AJournalCutInHalfIsReportedTruncated()
    {
        string path = demo.CopyJournal("half.db");
        var bytes = await File.ReadAllBytesAsync(path);
        Assert.True(bytes.Length >= 8192, $"the demo journal is only {bytes.Length} bytes");
        await File.WriteAllBytesAsync(path, bytes[..(bytes.Length / 2)]);

        await AssertUnreadable(path, "truncated");
    }

    [Fact]
    public async Task AnEmptyFileIsReportedEmpty()
    {
        string path = demo.NewPath("empty.db");
        await File.WriteAllBytesAsync(path, []);

        await AssertUnreadable(path, "empty");
    }

    [Fact]
    public async Task AMissingFileIsReportedAndNotCreated()
    {
        string path = demo.NewPath("missing.db");

        await AssertUnreadable(path, "no such file");
        Assert.False(File.Exists(path), "replay created the journal it was asked to read");
    }

    [Fact]
    public async Task ASqliteDatabaseWithoutAJournalTableIsNotAJournal_AndIsLeftAsItWas()
    {
        string path = demo.NewPath("other.db");
        using (var connection = Open(path)) Execute(connection, "CREATE TABLE photos (id INTEGER PRIMARY KEY, name TEXT);");

        await AssertUnreadable(path, "without a 'journal' table");
        using var check = Open(path);
        Assert.Equal(0L, Scalar<long>(check, "SELECT count(*) FROM sqlite_master WHERE name = 'journal'"));
    }

    [Fact]
    public async Task ACorruptPageInsideTheFileIsReportedCorrupt()
    {
        string path = demo.CopyJournal("scribbled.db");
        var bytes = await File.ReadAllBytesAsync(path);
        int pageSize = (bytes[16] << 8) | bytes[17];
        // Overwrite the second page (the first b-tree page after sqlite_master) with garbage, header intact.
        new Random(3).NextBytes(bytes.AsSpan(pageSize, pageSize));
        await File.WriteAllBytesAsync(path, bytes);

        await AssertUnreadable(path, "corrupt");
    }

    [Fact]
    public async Task AnUndeserializablePayloadNamesItsSequenceNumber()
    {
        string path = demo.CopyJournal("bad-payload.db");
        using (var connection = Open(path)) Execute(connection, "UPDATE journal SET message = X'6E6F74206A736F6E' WHERE sequence_number = 5;"); // "not json"

        var (exit, stdout, stderr) = await Replay("--journal", path, "--json");

        Assert.Equal(2, exit);
        Assert.Equal("", stdout);
        Assert.Contains("sequence 5", stderr, StringComparison.Ordinal);
        var e = await Assert.ThrowsAsync<JournalFormatException>(() => JournalReader.ReadAsync(new JournalStorage.Sqlite(path)));
        Assert.Contains("sequence 5", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task TheReaderThrowsTheTypedErrorForUnreadableFiles()
    {
        string path = demo.NewPath("reader-random.db");
        await File.WriteAllBytesAsync(path, [.. Enumerable.Range(0, 4096).Select(i => (byte)(i * 31))]);

        var e = await Assert.ThrowsAsync<JournalUnreadableException>(() => JournalReader.ReadAsync(new JournalStorage.Sqlite(path)));
        Assert.Contains("not a SQLite database", e.Message, StringComparison.Ordinal);
        await Assert.ThrowsAsync<JournalUnreadableException>(() => JournalReader.ReadAsync(new JournalStorage.Sqlite(demo.NewPath("reader-missing.db"))));
    }

    [Fact]
    public async Task TheReaderReturnsEveryEventInSequenceOrder()
    {
        var entries = await JournalReader.ReadAsync(new JournalStorage.Sqlite(demo.JournalPath));

        // Every event of every row (a row holds one event or a batch), numbered by its position.
        Assert.Equal(
            JournalDatabase.Events(new JournalStorage.Sqlite(demo.JournalPath), "persistence_id = 'bufferactors-lifecycles'").Select(e => (e.Id, JournalVocabulary.EventName(e), e.At)),
            entries.Select(e => (e.Event.Id, JournalVocabulary.EventName(e.Event), e.Event.At)));
        Assert.Equal(Enumerable.Range(1, entries.Count).Select(n => (long)n), entries.Select(e => e.SequenceNr));
        Assert.IsType<ExportRequested>(entries[0].Event);
    }

    private static async Task AssertUnreadable(string path, string expected)
    {
        foreach (var args in new[] { new[] { "--journal", path }, ["--journal", path, "--json"] })
        {
            var (exit, stdout, stderr) = await Replay(args);
            Assert.True(exit == 2, $"exit {exit} for {string.Join(' ', args)}; stdout: {stdout}; stderr: {stderr}");
            Assert.Equal("", stdout);
            Assert.True(stderr.Contains(expected, StringComparison.Ordinal), $"'{expected}' not in stderr: {stderr}");
            Assert.DoesNotContain("   at ", stderr, StringComparison.Ordinal); // a message, not a stack trace
        }
    }

    private static SqliteConnection Open(string path)
    {
        var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Pooling = false }.ToString());
        connection.Open();
        return connection;
    }

    private static void Execute(SqliteConnection connection, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }

    private static T Scalar<T>(SqliteConnection connection, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        return (T)command.ExecuteScalar()!;
    }
}
