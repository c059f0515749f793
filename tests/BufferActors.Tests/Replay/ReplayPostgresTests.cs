using System.Text.Json;
using BufferActors.Actors.Persistence;
using BufferActors.Host.Commands;
using BufferActors.Host.Scenarios;
using BufferActors.Tests.Persistence;

namespace BufferActors.Tests.Replay;

/// <summary><c>replay</c> on a PostgreSQL journal: the same read journal, pointed at the server by connection string.</summary>
[Collection(PostgresFixture.Collection)]
public sealed class ReplayPostgresTests(PostgresFixture postgres)
{
    [SkippableFact]
    public async Task TheDemoJournalInPostgresReplaysLikeTheSqliteOne()
    {
        await using var database = await postgres.CreateDatabaseAsync();
        int demo = await new DisplayBackendScenario(TextWriter.Null, 1, framebufferPages: 64, new JournalStorage.PostgreSql(database.ConnectionString)).RunAsync();
        Assert.Equal(0, demo);

        var output = new StringWriter();
        var error = new StringWriter();
        int exit = await ReplayCommand.RunAsync(["--journal", database.ConnectionString, "--json"], output, error);

        Assert.True(exit == 0, $"exit {exit}: {error}");
        using var json = JsonDocument.Parse(output.ToString());
        var lifecycles = json.RootElement.GetProperty("lifecycles").EnumerateArray().ToList();
        Assert.Equal(6, lifecycles.Count);
        Assert.All(lifecycles, l => Assert.Equal("Released", l.GetProperty("state").GetString()));
        Assert.Empty(json.RootElement.GetProperty("anomalies").EnumerateArray());
        Assert.DoesNotContain("Password", output.ToString(), StringComparison.OrdinalIgnoreCase);
    }

    [SkippableFact]
    public async Task ADatabaseWithoutAJournalIsUnreadable_AndGetsNoTables()
    {
        await using var database = await postgres.CreateDatabaseAsync();

        var output = new StringWriter();
        var error = new StringWriter();
        int exit = await ReplayCommand.RunAsync(["--journal", database.ConnectionString], output, error);

        Assert.Equal(2, exit);
        Assert.Contains("no 'journal' table", error.ToString(), StringComparison.Ordinal);
        await using var connection = new Npgsql.NpgsqlConnection(database.ConnectionString);
        await connection.OpenAsync();
        await using var tables = new Npgsql.NpgsqlCommand("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'", connection);
        Assert.Equal(0L, (long)(await tables.ExecuteScalarAsync())!);
    }
}
