using Microsoft.Data.Sqlite;

namespace BufferActors.Actors.Persistence;

/// <summary>
/// The tables and indexes Akka.Persistence.Sql creates in a SQLite journal with its default table configuration (the
/// journal, with its autoincrement ordering and three indexes, and the snapshot store), created by
/// <see cref="JournalStorage.Prepare"/> so that the plugins start with <c>auto-initialize = off</c>: their table
/// creation goes through linq2db, whose first statements cost a fresh process about half a second before its first
/// recovery (docs/performance.md, "Start-up"). The text is the plugin's own, so the file's schema is the one the plugin
/// would have made (<c>JournalSchemaTests</c> compares them).
/// </summary>
internal static class SqliteJournalSchema
{
    private const string Journal = """
        CREATE TABLE IF NOT EXISTS [journal]
        (
        	[ordering]        INTEGER        NOT NULL PRIMARY KEY AUTOINCREMENT,
        	[created]         INTEGER        NOT NULL,
        	[deleted]         Bit            NOT NULL,
        	[persistence_id]  NVarChar(255)  NOT NULL,
        	[sequence_number] INTEGER        NOT NULL,
        	[message]         VarBinary      NOT NULL,
        	[tags]            NVarChar(100)      NULL,
        	[manifest]        NVarChar(500)      NULL,
        	[identifier]      INTEGER            NULL,
        	[writer_uuid]     NVarChar(128)      NULL
        );
        CREATE UNIQUE INDEX IF NOT EXISTS journal_uq ON journal (persistence_id, sequence_number);
        CREATE INDEX IF NOT EXISTS journal_created_idx ON journal (created);
        CREATE INDEX IF NOT EXISTS journal_sequence_number_idx ON journal (sequence_number);
        """;

    private const string Snapshot = """
        CREATE TABLE IF NOT EXISTS [snapshot]
        (
        	[persistence_id]  NVarChar(255) NOT NULL,
        	[sequence_number] INTEGER       NOT NULL,
        	[created]         INTEGER       NOT NULL,
        	[snapshot]        VarBinary         NULL,
        	[manifest]        NVarChar(500)     NULL,
        	[serializer_id]   INTEGER           NULL,

        	CONSTRAINT [PK_snapshot] PRIMARY KEY ([persistence_id], [sequence_number])
        );
        CREATE INDEX IF NOT EXISTS snapshot_sequence_number_idx ON snapshot (sequence_number);
        CREATE INDEX IF NOT EXISTS snapshot_created_idx ON snapshot (created);
        """;

    /// <summary>Creates what is missing of the plugin's tables and indexes on <paramref name="connection"/>, in <paramref name="transaction"/>.</summary>
    public static void Create(SqliteConnection connection, SqliteTransaction transaction)
    {
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = Journal + "\n" + Snapshot;
        command.ExecuteNonQuery();
    }
}
