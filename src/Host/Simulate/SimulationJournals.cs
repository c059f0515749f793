using BufferActors.Actors.Persistence;
using Microsoft.Data.Sqlite;

namespace BufferActors.Host.Simulate;

/// <summary>
/// Where journaled simulation runs write. Every run needs a fresh journal (a journal with history
/// would be recovered and reconciled first, which is a different run), so a single run refuses an
/// existing file, a campaign writes one file per seed in the folder it is given and keeps only the
/// files of failing seeds (for <c>replay</c>), and shrinking writes each probe next to the original.
/// </summary>
internal static class SimulationJournals
{
    /// <summary>Why <paramref name="s"/>'s journal cannot be used for one run, or null.</summary>
    public static string? Problem(SimulationSettings s) => s.Journal switch
    {
        null => null,
        JournalStorage.Sqlite f when File.Exists(f.Path) => $"--journal {f.Path} exists: simulate writes a fresh journal (remove it or choose another path)",
        JournalStorage.Sqlite => null,
        _ => "--journal: simulate journals to a SQLite file (each run needs a fresh journal)",
    };

    /// <summary>The settings of seed <paramref name="seed"/> of a campaign journaling into folder <paramref name="folder"/>.</summary>
    public static SimulationSettings ForSeed(SimulationSettings s, string folder, int seed)
    {
        Directory.CreateDirectory(folder);
        var path = Path.Combine(folder, $"seed-{seed}-{s.Scenario.Name()}.db");
        Delete(path); // this campaign's own file name: a leftover of an earlier campaign in the same folder
        return s with { Seed = seed, Journal = new JournalStorage.Sqlite(path), JournalText = path };
    }

    /// <summary>The settings of a shrinking probe of <paramref name="operations"/> operations: its own journal next to the original.</summary>
    public static SimulationSettings ForProbe(SimulationSettings s, int operations)
    {
        if (s.Journal is not JournalStorage.Sqlite f) return s with { Operations = operations };
        var path = $"{f.Path}.probe-{operations}.db";
        Delete(path);
        return s with { Operations = operations, Journal = new JournalStorage.Sqlite(path), JournalText = path };
    }

    /// <summary>Deletes a run's SQLite journal (with its WAL files).</summary>
    public static void Delete(SimulationSettings s)
    {
        if (s.Journal is JournalStorage.Sqlite f) Delete(f.Path);
    }

    private static void Delete(string path)
    {
        SqliteConnection.ClearAllPools();
        foreach (var file in new[] { path, path + "-wal", path + "-shm" }) File.Delete(file);
    }
}
