using System.Data.Common;
using Microsoft.Data.Sqlite;
using Npgsql;

namespace BufferActors.Actors.Persistence.Replay;

/// <summary>
/// Checks a journal's database before Akka opens it, so every way a journal can be unreadable ends in one
/// clear <see cref="JournalUnreadableException"/> instead of a plugin's stack trace, and so replay never creates
/// a file or a table where there was none (the plugin's SQLite connection would create a missing file).
/// </summary>
internal static class JournalPreflight
{
    /// <summary>The journal table of the default Akka.Persistence.Sql mapping, which <see cref="JournalStorage"/> uses.</summary>
    public const string JournalTable = JournalTagLayout.JournalTable;

    private const int SqliteCorrupt = 11;      // SQLITE_CORRUPT
    private const int SqliteNotADatabase = 26; // SQLITE_NOTADB

    private static ReadOnlySpan<byte> SqliteMagic => "SQLite format 3\0"u8;

    /// <summary>A short description of where the journal is, without secrets.</summary>
    public static string Describe(JournalStorage storage) => storage switch
    {
        JournalStorage.Sqlite s => $"SQLite file {System.IO.Path.GetFullPath(s.Path)}",
        JournalStorage.PostgreSql p => DescribePostgres(p.ConnectionString),
        _ => "an in-memory journal",
    };

    /// <summary>Checks the storage; throws <see cref="JournalUnreadableException"/> with the reason when it cannot be read.</summary>
    public static void Check(JournalStorage storage)
    {
        switch (storage)
        {
            case JournalStorage.Sqlite s:
                CheckSqlite(s.Path);
                break;
            case JournalStorage.PostgreSql p:
                CheckPostgres(p.ConnectionString);
                break;
            default:
                throw new JournalUnreadableException("an in-memory journal ended with the actor system that wrote it: there is nothing to replay");
        }
    }

    private static void CheckSqlite(string path)
    {
        if (Directory.Exists(path)) throw new JournalUnreadableException($"{path} is a directory, not a SQLite journal file");
        var file = new FileInfo(path);
        if (!file.Exists) throw new JournalUnreadableException($"{path}: no such file (replay reads an existing journal and never creates one)");
        if (file.Length == 0) throw new JournalUnreadableException($"{path} is empty (0 bytes): not a SQLite database, or a journal truncated to nothing");

        // The 100-byte header says what the file is and how large it must be: checked first, so a foreign or
        // cut file is named as such rather than as whatever SQLite happens to trip over.
        var header = new byte[100];
        int read;
        try
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            read = stream.ReadAtLeast(header, header.Length, throwOnEndOfStream: false);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new JournalUnreadableException($"{path} cannot be read: {e.Message}", e);
        }
        if (!header.AsSpan(0, Math.Min(read, SqliteMagic.Length)).SequenceEqual(SqliteMagic))
            throw new JournalUnreadableException($"{path} is not a SQLite database (its first bytes are not \"SQLite format 3\")");
        if (read < header.Length)
            throw new JournalUnreadableException($"{path} is truncated: {file.Length} bytes, shorter than a SQLite header");
        long pageSize = (header[16] << 8) | header[17];
        if (pageSize == 1) pageSize = 65536; // the format's encoding of the largest page size
        long pages = (uint)((header[28] << 24) | (header[29] << 16) | (header[30] << 8) | header[31]);
        // The in-header page count is valid only when its version stamp matches the change counter.
        bool countValid = header.AsSpan(24, 4).SequenceEqual(header.AsSpan(92, 4)) && pages > 0;
        if (countValid && pages * pageSize > file.Length)
            throw new JournalUnreadableException(
                $"{path} is truncated: its header says {pages} pages of {pageSize} bytes ({pages * pageSize} bytes), the file has {file.Length}");

        try
        {
            using var connection = OpenReadOnly(path);
            var problems = new List<string>();
            using (var check = connection.CreateCommand())
            {
                // integrity_check, not quick_check: a damaged index would make the query skip or repeat events silently.
                check.CommandText = "PRAGMA integrity_check(10);";
                using var reader = check.ExecuteReader();
                while (reader.Read()) problems.Add(reader.GetString(0));
            }
            if (problems is not ["ok"])
                throw new JournalUnreadableException($"{path} is a corrupt SQLite database: {string.Join("; ", problems)}");
            using var tables = connection.CreateCommand();
            tables.CommandText = "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name;";
            var names = new List<string>();
            using (var reader = tables.ExecuteReader())
                while (reader.Read()) names.Add(reader.GetString(0));
            if (!names.Contains(JournalTable, StringComparer.OrdinalIgnoreCase))
                throw new JournalUnreadableException(
                    $"{path} is a SQLite database without a '{JournalTable}' table, not a BufferActors journal " +
                    $"(tables: {(names.Count == 0 ? "none" : string.Join(", ", names))})");
        }
        catch (SqliteException e) when (e.SqliteErrorCode is SqliteCorrupt or SqliteNotADatabase)
        {
            throw new JournalUnreadableException($"{path} is a corrupt SQLite database: {e.Message}", e);
        }
        catch (SqliteException e)
        {
            throw new JournalUnreadableException($"{path} is not a readable SQLite database: {e.Message}", e);
        }
    }

    /// <summary>
    /// True when the (already checked) journal keeps its tags as tag-table rows, with no tags column in the
    /// journal table: written before tags moved into the row, and not upgraded since.
    /// </summary>
    public static bool HasTagTableLayout(JournalStorage storage)
    {
        using DbConnection connection = storage switch
        {
            JournalStorage.Sqlite s => OpenReadOnly(s.Path),
            JournalStorage.PostgreSql p => new NpgsqlConnection(p.ConnectionString),
            _ => throw new ArgumentException($"no tag layout for {storage}", nameof(storage)),
        };
        if (connection.State != System.Data.ConnectionState.Open) connection.Open();
        return JournalTagLayout.IsTagTable(connection);
    }

    // Read-only and unpooled: replay never writes, and leaves no connection behind on the file.
    private static SqliteConnection OpenReadOnly(string path)
    {
        var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Mode = SqliteOpenMode.ReadOnly, Pooling = false }.ToString());
        try
        {
            connection.Open();
            return connection;
        }
        catch
        {
            connection.Dispose();
            throw;
        }
    }

    private static void CheckPostgres(string connectionString)
    {
        string where = DescribePostgres(connectionString);
        try
        {
            using var connection = new NpgsqlConnection(connectionString);
            connection.Open();
            using var command = connection.CreateCommand();
            command.CommandText = $"SELECT to_regclass('{JournalTable}') IS NOT NULL;";
            if (command.ExecuteScalar() is not true)
                throw new JournalUnreadableException($"{where} has no '{JournalTable}' table: not a BufferActors journal");
        }
        catch (Exception e) when (e is NpgsqlException or ArgumentException or InvalidOperationException)
        {
            throw new JournalUnreadableException($"{where}: {e.Message}", e);
        }
    }

    private static string DescribePostgres(string connectionString)
    {
        try
        {
            var b = new NpgsqlConnectionStringBuilder(connectionString);
            return $"PostgreSQL database {b.Database ?? "(default)"} on {b.Host}:{b.Port}";
        }
        catch (ArgumentException)
        {
            return "PostgreSQL (unparsable connection string)";
        }
    }
}
