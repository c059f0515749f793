using Microsoft.Data.Sqlite;

namespace BufferActors.Tests.Persistence;

/// <summary>Plain SQL on a journal's SQLite file, beside the actor system (unpooled: nothing stays open on the file).</summary>
internal static class SqliteFile
{
    /// <summary>The rows of <paramref name="sql"/>, each as its column values (null for SQL NULL).</summary>
    public static List<object?[]> Query(string path, string sql)
    {
        using var connection = Open(path);
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
    public static long Scalar(string path, string sql)
    {
        using var connection = Open(path);
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        return Convert.ToInt64(command.ExecuteScalar() ?? 0L);
    }

    /// <summary>Runs a statement that changes the file (e.g. installs a trigger).</summary>
    public static void Execute(string path, string sql)
    {
        using var connection = Open(path);
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }

    private static SqliteConnection Open(string path)
    {
        var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Pooling = false }.ToString());
        connection.Open();
        return connection;
    }
}
