using Microsoft.Data.Sqlite;

namespace BufferActors.Actors.Persistence;

/// <summary>What every direct reader and writer of the SQL plugin's SQLite tables needs: quoted names, and a connection that waits for the write lock.</summary>
internal static class SqliteSql
{
    /// <summary><paramref name="identifier"/> as a quoted SQL identifier.</summary>
    public static string Quote(string identifier) => $"\"{identifier.Replace("\"", "\"\"", StringComparison.Ordinal)}\"";

    /// <summary>The quoted name of table <paramref name="name"/>, in <paramref name="schema"/> when the plugin's configuration names one.</summary>
    public static string Table(string? schema, string name) => string.IsNullOrEmpty(schema) ? Quote(name) : $"{Quote(schema)}.{Quote(name)}";

    /// <summary>
    /// An open connection to <paramref name="connectionString"/> that waits for the file's write lock in SQLite's busy handler
    /// (sleeps of 1, 2, 5 ... ms, up to 30 s) rather than in Microsoft.Data.Sqlite's retry loop, which sleeps 150 ms per
    /// attempt: that stalled one journal write in a hundred by 150 ms (bench journal, docs/performance.md).
    /// </summary>
    public static SqliteConnection OpenForWrites(string connectionString)
    {
        var connection = new SqliteConnection(connectionString);
        connection.Open();
        using var busy = connection.CreateCommand();
        busy.CommandText = "PRAGMA busy_timeout = 30000;";
        busy.ExecuteNonQuery();
        return connection;
    }
}
