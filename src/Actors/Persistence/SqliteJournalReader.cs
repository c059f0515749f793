using Akka.Persistence;
using Akka.Persistence.Sql.Config;
using Microsoft.Data.Sqlite;

namespace BufferActors.Actors.Persistence;

/// <summary>
/// Reads the Akka.Persistence.Sql journal table of a SQLite file straight through Microsoft.Data.Sqlite: one query per
/// replay, rows streamed in sequence order and deserialized by the given function (the actor system's serializers for
/// the journal plugin, the journal serializer alone for the replay tool), as the plugin's own replay returns them
/// (deleted rows skipped, <c>created</c> as the timestamp, the writer uuid). Table and column names
/// come from the plugin's table configuration. Replaces linq2db on the recovery path: its first queries cost a fresh
/// process more than a second, and its replay ran at a quarter of SQLite's read speed (docs/performance.md, "Recovery").
/// </summary>
internal sealed class SqliteJournalReader
{
    private readonly string _connectionString;
    private readonly Func<byte[], int, string, object> _deserialize;
    private readonly string _highestSql, _replaySql;

    /// <summary>A reader of <paramref name="table"/> on <paramref name="connectionString"/>.</summary>
    /// <param name="connectionString">The plugin's connection string.</param>
    /// <param name="table">The plugin's table configuration.</param>
    /// <param name="deserialize">A payload from its bytes, serializer id and manifest.</param>
    public SqliteJournalReader(string connectionString, JournalTableConfig table, Func<byte[], int, string, object> deserialize)
    {
        _connectionString = connectionString;
        _deserialize = deserialize;
        var c = table.EventJournalTable.ColumnNames;
        string name = SqliteSql.Table(table.SchemaName, table.EventJournalTable.Name);
        string pid = SqliteSql.Quote(c.PersistenceId), seq = SqliteSql.Quote(c.SequenceNumber);
        string writer = table.EventJournalTable.UseWriterUuidColumn ? SqliteSql.Quote(c.WriterUuid) : "NULL";
        _highestSql = $"SELECT MAX({seq}) FROM {name} WHERE {pid} = $pid";
        _replaySql = $"SELECT {seq}, {SqliteSql.Quote(c.Message)}, {SqliteSql.Quote(c.Manifest)}, {SqliteSql.Quote(c.Identifier)}, {SqliteSql.Quote(c.Created)}, {writer} FROM {name} " +
            $"WHERE {pid} = $pid AND {seq} >= $from AND {seq} <= $to AND {SqliteSql.Quote(c.Deleted)} = 0 ORDER BY {seq} LIMIT $max";
    }

    /// <summary>The highest sequence number of <paramref name="persistenceId"/> (deleted rows included: they keep their numbers), 0 for none.</summary>
    public long HighestSequenceNr(string persistenceId)
    {
        using var connection = Open();
        using var command = connection.CreateCommand();
        command.CommandText = _highestSql;
        command.Parameters.AddWithValue("$pid", persistenceId);
        return command.ExecuteScalar() is long highest ? highest : 0;
    }

    /// <summary>Calls <paramref name="replayed"/> with each event of <paramref name="persistenceId"/> from <paramref name="from"/> to <paramref name="to"/>, at most <paramref name="max"/>, in order.</summary>
    public void Replay(string persistenceId, long from, long to, long max, Action<IPersistentRepresentation> replayed, CancellationToken cancellationToken)
    {
        if (max <= 0 || to < from) return;
        using var connection = Open();
        using var command = connection.CreateCommand();
        command.CommandText = _replaySql;
        command.Parameters.AddWithValue("$pid", persistenceId);
        command.Parameters.AddWithValue("$from", from);
        command.Parameters.AddWithValue("$to", to);
        command.Parameters.AddWithValue("$max", max);
        using var reader = command.ExecuteReader();
        while (reader.Read())
        {
            cancellationToken.ThrowIfCancellationRequested();
            long sequenceNr = reader.GetInt64(0);
            var payload = _deserialize((byte[])reader.GetValue(1), reader.GetInt32(3), reader.IsDBNull(2) ? string.Empty : reader.GetString(2));
            replayed(new Persistent(payload, sequenceNr, persistenceId, string.Empty, false, ActorRefs.NoSender,
                reader.IsDBNull(5) ? null : reader.GetString(5), reader.GetInt64(4)));
        }
    }

    private SqliteConnection Open()
    {
        var connection = new SqliteConnection(_connectionString);
        connection.Open();
        return connection;
    }
}
