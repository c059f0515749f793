using Akka.Persistence.Sql.Config;
using Microsoft.Data.Sqlite;

namespace BufferActors.Actors.Persistence;

/// <summary>
/// Inserts journal rows into the Akka.Persistence.Sql journal table of a SQLite file: one long-lived
/// connection, one prepared INSERT, one transaction per <see cref="Write"/>. Table and column names come
/// from the plugin's own table configuration, so the rows land where the plugin reads them.
/// Not thread-safe: the caller runs one <see cref="Write"/> at a time.
/// </summary>
internal sealed class SqliteJournalWriter : IDisposable
{
    private readonly string _connectionString;
    private readonly string _insertSql;
    private readonly string? _writerUuid;
    private readonly JournalDurability _durability;
    private SqliteConnection? _connection;
    private SqliteCommand? _insert;
    private SqliteParameter _created = null!, _persistenceId = null!, _sequenceNr = null!, _message = null!, _manifest = null!, _identifier = null!, _tags = null!;

    /// <summary>A writer for <paramref name="table"/> on <paramref name="connectionString"/>; connects on the first write.</summary>
    /// <param name="connectionString">The plugin's connection string (the same file, same settings).</param>
    /// <param name="table">The plugin's table configuration.</param>
    /// <param name="writerUuid">The <c>writer_uuid</c> of every row, or null when the table has no such column.</param>
    /// <param name="durability">What a commit survives once <see cref="Write"/> returns.</param>
    public SqliteJournalWriter(string connectionString, JournalTableConfig table, string? writerUuid, JournalDurability durability = JournalDurability.Process)
    {
        _durability = durability;
        _connectionString = connectionString;
        _writerUuid = writerUuid;
        var c = table.EventJournalTable.ColumnNames;
        var columns = new List<string> { c.Created, c.Deleted, c.PersistenceId, c.SequenceNumber, c.Message, c.Manifest, c.Identifier, c.Tags };
        var values = new List<string> { "$created", "0", "$pid", "$seq", "$message", "$manifest", "$identifier", "$tags" };
        if (writerUuid is not null)
        {
            columns.Add(c.WriterUuid);
            values.Add("$writer");
        }
        string name = SqliteSql.Table(table.SchemaName, table.EventJournalTable.Name);
        _insertSql = $"INSERT INTO {name} ({string.Join(", ", columns.Select(SqliteSql.Quote))}) VALUES ({string.Join(", ", values)})";
    }

    /// <summary>
    /// Inserts <paramref name="rows"/> in one transaction, or none of them: any failure rolls back and is
    /// thrown, and the next write starts on a new connection (the old one may be in any state).
    /// </summary>
    /// <param name="rows">The rows, in order.</param>
    /// <param name="cancellationToken">Checked before the commit: a write the journal has given up on is rolled back, not committed late.</param>
    public void Write(IReadOnlyList<SqliteJournalRow> rows, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        try
        {
            var insert = _insert ?? Open();
            // BEGIN IMMEDIATE: take the write lock up front, so the snapshot store writing the same file makes
            // this wait (busy timeout) rather than fail a deferred transaction's upgrade halfway.
            using var transaction = _connection!.BeginTransaction(deferred: false);
            insert.Transaction = transaction;
            foreach (var row in rows)
            {
                _created.Value = row.Created;
                _persistenceId.Value = row.PersistenceId;
                _sequenceNr.Value = row.SequenceNr;
                _message.Value = row.Message;
                _manifest.Value = row.Manifest;
                _identifier.Value = row.Identifier;
                _tags.Value = row.Tags;
                insert.ExecuteNonQuery();
            }
            cancellationToken.ThrowIfCancellationRequested();
            transaction.Commit();
        }
        catch
        {
            Close();
            throw;
        }
    }

    /// <inheritdoc />
    public void Dispose() => Close();

    private SqliteCommand Open()
    {
        _connection = SqliteSql.OpenForWrites(_connectionString); // the snapshot store may hold the write lock
        ApplyDurability(_connection, _durability);
        _insert = _connection.CreateCommand();
        _insert.CommandText = _insertSql;
        _created = Add("$created", SqliteType.Integer);
        _persistenceId = Add("$pid", SqliteType.Text);
        _sequenceNr = Add("$seq", SqliteType.Integer);
        _message = Add("$message", SqliteType.Blob);
        _manifest = Add("$manifest", SqliteType.Text);
        _identifier = Add("$identifier", SqliteType.Integer);
        _tags = Add("$tags", SqliteType.Text);
        if (_writerUuid is not null) Add("$writer", SqliteType.Text).Value = _writerUuid;
        _insert.Prepare();
        return _insert;
    }

    /// <summary>
    /// Sets what a commit on <paramref name="connection"/> survives. In WAL mode <c>synchronous = NORMAL</c> syncs the WAL
    /// only at checkpoints: a commit is in the page cache, which a process's crash does not lose; <c>FULL</c> syncs it at
    /// every commit, which a power loss does not lose either.
    /// </summary>
    internal static void ApplyDurability(SqliteConnection connection, JournalDurability durability)
    {
        using var pragma = connection.CreateCommand();
        pragma.CommandText = durability == JournalDurability.Power ? "PRAGMA synchronous = FULL;" : "PRAGMA synchronous = NORMAL;";
        pragma.ExecuteNonQuery();
    }

    private SqliteParameter Add(string name, SqliteType type) => _insert!.Parameters.Add(name, type);

    private void Close()
    {
        _insert?.Dispose();
        _connection?.Dispose();
        _insert = null;
        _connection = null;
    }
}
