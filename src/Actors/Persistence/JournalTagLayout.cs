using System.Data.Common;
using System.Globalization;
using Microsoft.Data.Sqlite;

namespace BufferActors.Actors.Persistence;

/// <summary>
/// Where a journal database keeps its event tags. Databases written before tags moved into the journal row
/// (Akka.Persistence.Sql's <c>tag-write-mode = TagTable</c>) have no <c>tags</c> column in <c>journal</c>, only
/// rows in the <c>tags</c> table; the plugin in Csv mode reads and writes that column, so such a database is
/// either upgraded (<see cref="UpgradeToCsv"/>, before a journal writes to it) or read in TagTable mode (replay).
/// SQLite and PostgreSQL, the plugin's default table and column names.
/// </summary>
internal static class JournalTagLayout
{
    /// <summary>The plugin's default journal table.</summary>
    public const string JournalTable = "journal";

    private const string TagsColumn = "tags";
    private const string TagTable = "tags";

    /// <summary>True when the database has a journal table without the tags column, i.e. it was written in TagTable mode.</summary>
    public static bool IsTagTable(DbConnection connection) => IsTagTable(connection, null);

    /// <summary>
    /// Gives a TagTable-layout database the Csv tags column (the type the plugin declares) and fills it from the
    /// tag table, so old events keep answering tag queries; in one transaction, which takes the write lock before
    /// looking, so two hosts starting at once upgrade once. The tag table is left as it was (older builds read
    /// it; new events add no rows to it).
    /// </summary>
    /// <returns>True when the database was upgraded; false when there was nothing to do.</returns>
    public static bool UpgradeToCsv(DbConnection connection)
    {
        bool sqlite = connection is SqliteConnection;
        using var transaction = connection is SqliteConnection s ? s.BeginTransaction(deferred: false) : connection.BeginTransaction();
        // SQLite: BEGIN IMMEDIATE took the file's write lock. PostgreSQL: a lock that conflicts with itself and with writers.
        if (!sqlite && TableExists(connection, transaction, JournalTable))
            Execute(connection, transaction, $"LOCK TABLE {JournalTable} IN SHARE ROW EXCLUSIVE MODE");
        if (!IsTagTable(connection, transaction)) return false;
        Execute(connection, transaction, $"ALTER TABLE {JournalTable} ADD COLUMN {TagsColumn} {(sqlite ? "NVarChar(100)" : "text")} NULL");
        // The Csv format: every tag between separators, ";a;b;". Events without tag rows stay NULL, which reads as untagged.
        if (TableExists(connection, transaction, TagTable))
            Execute(connection, transaction, sqlite
                ? $"UPDATE {JournalTable} SET {TagsColumn} = (SELECT ';' || group_concat(t.tag, ';') || ';' FROM {TagTable} t WHERE t.ordering_id = {JournalTable}.ordering) " +
                  $"WHERE EXISTS (SELECT 1 FROM {TagTable} t WHERE t.ordering_id = {JournalTable}.ordering)"
                : $"UPDATE {JournalTable} j SET {TagsColumn} = ';' || t.csv || ';' " +
                  $"FROM (SELECT ordering_id, string_agg(tag, ';') AS csv FROM {TagTable} GROUP BY ordering_id) t WHERE t.ordering_id = j.ordering");
        transaction.Commit();
        return true;
    }

    private static bool IsTagTable(DbConnection connection, DbTransaction? transaction) =>
        TableExists(connection, transaction, JournalTable) && Count(connection, transaction, connection is SqliteConnection
            ? $"SELECT COUNT(*) FROM pragma_table_info('{JournalTable}') WHERE name = '{TagsColumn}'"
            : $"SELECT COUNT(*) FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = '{JournalTable}' AND column_name = '{TagsColumn}'") == 0;

    private static bool TableExists(DbConnection connection, DbTransaction? transaction, string table) =>
        Count(connection, transaction, connection is SqliteConnection
            ? $"SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = '{table}'"
            : $"SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = '{table}'") > 0;

    private static long Count(DbConnection connection, DbTransaction? transaction, string sql)
    {
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        return Convert.ToInt64(command.ExecuteScalar(), CultureInfo.InvariantCulture);
    }

    private static void Execute(DbConnection connection, DbTransaction transaction, string sql)
    {
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }
}
