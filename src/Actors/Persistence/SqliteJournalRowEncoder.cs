using Akka.Actor;
using Akka.Serialization;
using Akka.Util;

namespace BufferActors.Actors.Persistence;

/// <summary>
/// Turns a payload into the row Akka.Persistence.Sql writes for it in <c>tag-write-mode = Csv</c>: the serializer
/// the actor system binds to its type (or the plugin's default), that serializer's manifest and id, and the tags
/// between separators. Shared by the journal plugin's write path (<see cref="SqliteBatchWriteJournal"/>) and the
/// lifecycle journal's own (<see cref="SqliteJournalAppender"/>), so both write rows the stock reader cannot tell apart.
/// </summary>
internal sealed class SqliteJournalRowEncoder(ExtendedActorSystem system, string? defaultSerializer, string tagSeparator)
{
    /// <summary>The row of <paramref name="payload"/> tagged <paramref name="tags"/>.</summary>
    /// <exception cref="Exception">The payload cannot be serialized: whatever its serializer throws.</exception>
    public SqliteJournalRow Encode(string persistenceId, long sequenceNr, long created, object payload, IEnumerable<string> tags) =>
        Encode(persistenceId, sequenceNr, created, payload, Csv(tags));

    /// <summary>The row of <paramref name="payload"/> with the tags column <paramref name="csvTags"/> (<see cref="Csv"/>).</summary>
    /// <exception cref="Exception">The payload cannot be serialized: whatever its serializer throws.</exception>
    public SqliteJournalRow Encode(string persistenceId, long sequenceNr, long created, object payload, string csvTags)
    {
        var serializer = system.Serialization.FindSerializerForType(payload.GetType(), defaultSerializer);
        var (manifest, message) = Serialization.WithTransport(system, (serializer, payload), static s => (Manifest(s.serializer, s.payload), s.serializer.ToBinary(s.payload)));
        return new SqliteJournalRow(persistenceId, sequenceNr, created, message, manifest, serializer.Identifier, csvTags);
    }

    /// <summary>The manifest the plugin stores: a string manifest, else the type name when the serializer wants one, else empty.</summary>
    private static string Manifest(Serializer serializer, object payload) => serializer switch
    {
        SerializerWithStringManifest withManifest => withManifest.Manifest(payload),
        { IncludeManifest: true } => payload.GetType().TypeQualifiedName(),
        _ => string.Empty,
    };

    /// <summary>The plugin's Csv tag column: the tags between separators (<c>;a;b;</c>) in the order given, or empty without tags.</summary>
    public string Csv(IEnumerable<string> tags)
    {
        string joined = string.Join(tagSeparator, tags);
        return joined.Length == 0 ? string.Empty : tagSeparator + joined + tagSeparator;
    }
}
