using Akka.Configuration;
using Akka.Persistence;
using Akka.Persistence.Sql;
using Akka.Persistence.Sql.Config;
using Akka.Persistence.Sql.Snapshot;
using Microsoft.Data.Sqlite;

namespace BufferActors.Actors.Persistence;

/// <summary>
/// The Akka.Persistence.Sql snapshot store for SQLite with its load read straight from the snapshot table
/// (Microsoft.Data.Sqlite): the newest snapshot the criteria select, as the plugin loads it. Saving, deleting and table
/// creation are the plugin's. Why: a journal's recovery starts with this load, and the plugin's, through linq2db,
/// costs a fresh process most of a second before its first lifecycle (docs/performance.md, "Start-up").
/// </summary>
/// <remarks>Configure as the SQL snapshot store's <c>class</c> with a SQLite provider.</remarks>
public class SqliteSnapshotStore : SqlSnapshotStore
{
    private readonly string _connectionString;
    private readonly string _loadSql;
    private readonly Akka.Serialization.Serialization _serialization;

    /// <summary>Created by Akka.Persistence from the snapshot store's configuration section.</summary>
    public SqliteSnapshotStore(Config snapshotConfig) : base(snapshotConfig)
    {
        var config = new SnapshotConfig(snapshotConfig.WithFallback(SqlPersistence.DefaultSnapshotConfiguration));
        if (!config.ProviderName.Contains("sqlite", StringComparison.OrdinalIgnoreCase))
            throw new ConfigurationException($"{nameof(SqliteSnapshotStore)} reads SQLite only (provider-name is '{config.ProviderName}')");
        _connectionString = config.ConnectionString;
        _serialization = Context.System.Serialization; // the load runs off the actor, where Context is not there
        var table = config.TableConfig;
        var c = table.SnapshotTable.ColumnNames;
        string name = SqliteSql.Table(table.SchemaName, table.SnapshotTable.Name);
        string seq = SqliteSql.Quote(c.SequenceNumber), created = SqliteSql.Quote(c.Created);
        _loadSql = $"SELECT {seq}, {created}, {SqliteSql.Quote(c.Snapshot)}, {SqliteSql.Quote(c.Manifest)}, {SqliteSql.Quote(c.SerializerId)} FROM {name} " +
            $"WHERE {SqliteSql.Quote(c.PersistenceId)} = $pid AND {seq} >= $min AND {seq} <= $max AND {created} >= $from AND {created} <= $to ORDER BY {seq} DESC LIMIT 1";
    }

    /// <inheritdoc />
    protected override async Task<SelectedSnapshot?> LoadAsync(string persistenceId, SnapshotSelectionCriteria criteria, CancellationToken cancellationToken = default)
    {
        await Task.Yield(); // off the store actor's thread
        using var connection = new SqliteConnection(_connectionString);
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = _loadSql;
        command.Parameters.AddWithValue("$pid", persistenceId);
        command.Parameters.AddWithValue("$min", criteria.MinSequenceNr);
        command.Parameters.AddWithValue("$max", criteria.MaxSequenceNr);
        command.Parameters.AddWithValue("$from", (criteria.MinTimestamp ?? DateTime.MinValue).Ticks);
        command.Parameters.AddWithValue("$to", criteria.MaxTimeStamp.Ticks);
        using var reader = command.ExecuteReader();
        if (!reader.Read()) return null; // Akka.Persistence's answer for no snapshot
        var metadata = new SnapshotMetadata(persistenceId, reader.GetInt64(0), new DateTime(reader.GetInt64(1), DateTimeKind.Utc));
        var snapshot = _serialization.Deserialize((byte[])reader.GetValue(2), reader.GetInt32(4), reader.IsDBNull(3) ? string.Empty : reader.GetString(3));
        return new SelectedSnapshot(metadata, snapshot);
    }
}
