using Microsoft.Data.Sqlite;

namespace BufferActors.Actors.Persistence;

/// <summary>
/// Where a SQLite journal file keeps its tags. Files written before tags moved into the journal row
/// (Akka.Persistence.Sql's <c>tag-write-mode = TagTable</c>) have no <c>tags</c> column in <c>journal</c>,
/// only rows in the <c>tags</c> table; the plugin in Csv mode reads and writes that column, so such a file
/// is either upgraded (<see cref="UpgradeToCsvTags"/>, before writing) or read in TagTable mode (replay).
/// </summary>
internal static class SqliteJournalSchema
{
    /// <summary>The plugin's default journal table.</summary>
    public const string JournalTable = "journal";

    private const string TagsColumn = "tags";
    private const string TagTable = "tags";

    /// <summary>True when the file has a journal table without the tags column, i.e. it was written in TagTable mode.</summary>
    public static bool HasTagTableLayout(SqliteConnection connection) =>
        TableExists(connection, JournalTable) && !Columns(connection, JournalTable).Contains(TagsColumn, StringComparer.OrdinalIgnoreCase);

    /// <summary>
    /// Gives a TagTable-layout file the Csv tags column (as the plugin declares it) and fills it from the tag
    /// table, so the old events keep answering tag queries; one transaction, nothing done on any other file.
    /// The tag table is left as it was (older builds still read it; new events add no rows to it).
    /// </summary>
    /// <returns>True when the file was upgraded.</returns>
    public static bool UpgradeToCsvTags(SqliteConnection connection)
    {
        if (!HasTagTableLayout(connection)) return false;
        using var transaction = connection.BeginTransaction(deferred: false);
        Execute(connection, transaction, $"ALTER TABLE {JournalTable} ADD COLUMN {TagsColumn} NVarChar(100) NULL");
        if (TableExists(connection, TagTable))
            // The Csv format: every tag between separators, ";a;b;". Rows without tag rows stay NULL, which reads as untagged.
            Execute(connection, transaction,
                $"UPDATE {JournalTable} SET {TagsColumn} = (SELECT ';' || group_concat(t.tag, ';') || ';' FROM {TagTable} t WHERE t.ordering_id = {JournalTable}.ordering) " +
                $"WHERE EXISTS (SELECT 1 FROM {TagTable} t WHERE t.ordering_id = {JournalTable}.ordering)");
        transaction.Commit();
        return true;
    }

    private static bool TableExists(SqliteConnection connection, string table)
    {
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = $name COLLATE NOCASE";
        command.Parameters.AddWithValue("$name", table);
        return Convert.ToInt64(command.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture) > 0;
    }

    private static List<string> Columns(SqliteConnection connection, string table)
    {
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT name FROM pragma_table_info($table)";
        command.Parameters.AddWithValue("$table", table);
        using var reader = command.ExecuteReader();
        var names = new List<string>();
        while (reader.Read()) names.Add(reader.GetString(0));
        return names;
    }

    private static void Execute(SqliteConnection connection, SqliteTransaction transaction, string sql)
    {
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }
}
