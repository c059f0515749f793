using System.Data.Common;
using BufferActors.Actors.Persistence;
using Microsoft.Data.Sqlite;
using Npgsql;

namespace BufferActors.Tests.Persistence;

/// <summary>Plain SQL on a journal's database, beside the actor system (unpooled on SQLite: nothing stays open on the file).</summary>
internal static class JournalDatabase
{
    /// <summary>The rows of <paramref name="sql"/>, each as its column values (null for SQL NULL).</summary>
    public static List<object?[]> Query(JournalStorage storage, string sql)
    {
        using var connection = Open(storage);
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        using var reader = command.ExecuteReader();
        var rows = new List<object?[]>();
        while (reader.Read())
        {
            var values = new object?[reader.FieldCount];
            for (int i = 0; i < values.Length; i++) values[i] = reader.IsDBNull(i) ? null : reader.GetValue(i);
            rows.Add(values);
        }
        return rows;
    }

    /// <summary>The first column of the first row of <paramref name="sql"/>, as a number.</summary>
    public static long Scalar(JournalStorage storage, string sql)
    {
        using var connection = Open(storage);
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        return Convert.ToInt64(command.ExecuteScalar() ?? 0L);
    }

    /// <summary>Runs a statement that changes the database (e.g. installs a trigger).</summary>
    public static void Execute(JournalStorage storage, string sql)
    {
        using var connection = Open(storage);
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }

    /// <summary>True when the journal table has the Csv tags column.</summary>
    /// <summary>
    /// Every lifecycle event in the journal table, in order: a row holds one event or a batch of them
    /// (<see cref="LifecycleEventBatch"/>); rows <paramref name="where"/> selects only, if given (an SQL condition).
    /// </summary>
    public static List<LifecycleEvent> Events(JournalStorage storage, string? where = null)
    {
        var events = new List<LifecycleEvent>();
        foreach (var row in Query(storage, $"SELECT message, manifest FROM journal{(where is null ? "" : " WHERE " + where)} ORDER BY ordering"))
            events.AddRange(JournalSystem.EventsOf(JournalSerializer.Read((byte[])row[0]!, (string)row[1]!)));
        return events;
    }

    public static bool HasTagsColumn(JournalStorage storage) => Scalar(storage, storage is JournalStorage.Sqlite
        ? "SELECT COUNT(*) FROM pragma_table_info('journal') WHERE name = 'tags'"
        : "SELECT COUNT(*) FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = 'journal' AND column_name = 'tags'") == 1;

    private static DbConnection Open(JournalStorage storage)
    {
        DbConnection connection = storage switch
        {
            JournalStorage.Sqlite s => new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = s.Path, Pooling = false }.ToString()),
            JournalStorage.PostgreSql p => new NpgsqlConnection(p.ConnectionString),
            _ => throw new ArgumentException($"no database for {storage}", nameof(storage)),
        };
        connection.Open();
        return connection;
    }
}
