using BufferActors.Actors.Persistence;
using BufferActors.Host.Scenarios;
using Microsoft.Data.Sqlite;

namespace BufferActors.Tests.Replay;

/// <summary>
/// A real journal: the demo's display-backend scenario (2 frontends x 3 framebuffers, the second frontend
/// crashes) run in-process against a SQLite file, once per test class that uses it.
/// </summary>
public sealed class DemoJournalFixture : IAsyncLifetime
{
    /// <summary>A folder of this fixture's own; removed at the end.</summary>
    public string Folder { get; } = Path.Combine(Path.GetTempPath(), $"ba-replay-{Guid.NewGuid():N}");

    /// <summary>The demo's journal.</summary>
    public string JournalPath => Path.Combine(Folder, "demo.db");

    /// <summary>What the scenario printed (for failure messages).</summary>
    public string ScenarioOutput { get; private set; } = "";

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(Folder);
        var output = new StringWriter();
        int exit = await new DisplayBackendScenario(output, 1, framebufferPages: 64, new JournalStorage.Sqlite(JournalPath)).RunAsync();
        ScenarioOutput = output.ToString();
        Assert.True(exit == 0, $"the demo scenario failed:\n{ScenarioOutput}");
        // The journal runs in WAL mode: fold the log into the file, so a plain copy of the file is the whole journal.
        using var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = JournalPath, Pooling = false }.ToString());
        connection.Open();
        using var checkpoint = connection.CreateCommand();
        checkpoint.CommandText = "PRAGMA wal_checkpoint(TRUNCATE);";
        checkpoint.ExecuteNonQuery();
    }

    /// <summary>A copy of the journal file in this fixture's folder, to damage.</summary>
    public string CopyJournal(string name)
    {
        string path = Path.Combine(Folder, name);
        File.Copy(JournalPath, path, overwrite: true);
        return path;
    }

    /// <summary>A path for a new file in this fixture's folder.</summary>
    public string NewPath(string name) => Path.Combine(Folder, name);

    public Task DisposeAsync()
    {
        try
        {
            Directory.Delete(Folder, recursive: true);
        }
        catch (IOException)
        {
            // A pooled SQLite handle may still be open; the temp folder is left for the OS to clean.
        }
        return Task.CompletedTask;
    }
}
