using Akka.Persistence.Sql.Config;
using Microsoft.Data.Sqlite;

namespace BufferActors.Actors.Persistence;

/// <summary>
/// Saves a snapshot into the Akka.Persistence.Sql snapshot table of a SQLite file and deletes the older ones of the same
/// persistence id, in one transaction: the row the plugin's snapshot store writes (<c>created</c> in ticks, the
/// serializer's manifest and id), so that its load finds it. Run on the journal's writer thread
/// (<see cref="SqliteJournalAppender"/>), between two event writes: the snapshot store's own connection, retrying
/// every 150 ms, starved behind a writer that takes SQLite's write lock again as soon as it lets it go.
/// Not thread-safe: one caller at a time.
/// </summary>
internal sealed class SqliteSnapshotWriter : IDisposable
{
    private readonly string _connectionString;
    private readonly string _saveSql, _deleteSql;
    private SqliteConnection? _connection;

    /// <summary>A writer of the snapshot table <paramref name="table"/> on <paramref name="connectionString"/>; connects on the first save.</summary>
    public SqliteSnapshotWriter(string connectionString, SnapshotTableConfiguration table)
    {
        _connectionString = connectionString;
        var c = table.SnapshotTable.ColumnNames;
        string name = SqliteSql.Table(table.SchemaName, table.SnapshotTable.Name);
        _saveSql = $"INSERT OR REPLACE INTO {name} ({SqliteSql.Quote(c.PersistenceId)}, {SqliteSql.Quote(c.SequenceNumber)}, {SqliteSql.Quote(c.Created)}, {SqliteSql.Quote(c.Snapshot)}, {SqliteSql.Quote(c.Manifest)}, {SqliteSql.Quote(c.SerializerId)}) " +
            "VALUES ($pid, $seq, $created, $snapshot, $manifest, $serializer)";
        _deleteSql = $"DELETE FROM {name} WHERE {SqliteSql.Quote(c.PersistenceId)} = $pid AND {SqliteSql.Quote(c.SequenceNumber)} < $seq";
    }

    /// <summary>Saves <paramref name="row"/> (its message is the snapshot) and deletes every older snapshot of its persistence id; all or nothing.</summary>
    public void Save(SqliteJournalRow row)
    {
        try
        {
            _connection ??= SqliteSql.OpenForWrites(_connectionString);
            using var transaction = _connection.BeginTransaction(deferred: false);
            using (var save = Command(_saveSql, transaction, row))
            {
                save.Parameters.AddWithValue("$created", row.Created);
                save.Parameters.AddWithValue("$snapshot", row.Message);
                save.Parameters.AddWithValue("$manifest", row.Manifest);
                save.Parameters.AddWithValue("$serializer", row.Identifier);
                save.ExecuteNonQuery();
            }
            using (var delete = Command(_deleteSql, transaction, row)) delete.ExecuteNonQuery();
            transaction.Commit();
        }
        catch
        {
            Dispose(); // the next save starts on a new connection
            throw;
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _connection?.Dispose();
        _connection = null;
    }

    private SqliteCommand Command(string sql, SqliteTransaction transaction, SqliteJournalRow row)
    {
        var command = _connection!.CreateCommand();
        command.CommandText = sql;
        command.Transaction = transaction;
        command.Parameters.AddWithValue("$pid", row.PersistenceId);
        command.Parameters.AddWithValue("$seq", row.SequenceNr);
        return command;
    }
}
