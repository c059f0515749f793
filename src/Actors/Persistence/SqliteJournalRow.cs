namespace BufferActors.Actors.Persistence;

/// <summary>
/// One event as a row of the Akka.Persistence.Sql journal table, serialized and ready to insert
/// (<c>ordering</c> is assigned by the database, <c>deleted</c> is always false, <c>writer_uuid</c> is the writer's).
/// </summary>
/// <param name="PersistenceId">The persistent actor's id.</param>
/// <param name="SequenceNr">The event's sequence number.</param>
/// <param name="Created">The <c>created</c> column: UTC ticks, as the plugin writes it.</param>
/// <param name="Message">The serialized payload.</param>
/// <param name="Manifest">The serializer's manifest (empty when the serializer has none).</param>
/// <param name="Identifier">The serializer's id.</param>
/// <param name="Tags">The <c>tags</c> column in the plugin's Csv format (<c>;a;b;</c>, empty when untagged).</param>
internal readonly record struct SqliteJournalRow(
    string PersistenceId, long SequenceNr, long Created, byte[] Message, string Manifest, int Identifier, string Tags);
