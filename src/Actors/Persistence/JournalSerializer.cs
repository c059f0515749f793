using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;
using Akka.Serialization;

namespace BufferActors.Actors.Persistence;

/// <summary>
/// Serializes journal events and snapshots as compact UTF-8 JSON (System.Text.Json): readable in the
/// database for post-mortems, stable across refactors (type discriminators, not CLR type names), and
/// several times faster than Akka's default Newtonsoft serializer.
/// </summary>
public sealed class JournalSerializer(ExtendedActorSystem system) : SerializerWithStringManifest(system)
{
    private const string EventManifest = "E1";
    private const string SnapshotManifest = "S1";
    private const string BatchManifest = "B1";

    /// <summary>Options shared by the journal and the replay tool.</summary>
    public static JsonSerializerOptions Options { get; } = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        Converters = { new JsonStringEnumConverter(), new LifecycleIdJsonConverter() },
        TypeInfoResolver = new DefaultJsonTypeInfoResolver { Modifiers = { JournalVocabulary.AddEventTypes } },
    };

    /// <inheritdoc />
    public override int Identifier => Id;

    /// <inheritdoc />
    public override string Manifest(object o) => o switch
    {
        LifecycleEventBatch => BatchManifest,
        LifecycleEvent => EventManifest,
        LifecycleJournal.Snapshot => SnapshotManifest,
        _ => throw new ArgumentException($"{nameof(JournalSerializer)} cannot serialize {o.GetType()}"),
    };

    /// <inheritdoc />
    public override byte[] ToBinary(object obj) => obj switch
    {
        LifecycleEventBatch b => JsonSerializer.SerializeToUtf8Bytes(Known(b.Events), Options),
        LifecycleEvent e => JsonSerializer.SerializeToUtf8Bytes(Known(e), Options),
        LifecycleJournal.Snapshot s => JsonSerializer.SerializeToUtf8Bytes(s, Options),
        _ => throw new ArgumentException($"{nameof(JournalSerializer)} cannot serialize {obj.GetType()}"),
    };

    /// <summary><paramref name="events"/>, each checked to be of the vocabulary (<see cref="JournalVocabulary"/>): the events this serializer writes.</summary>
    private static IReadOnlyList<LifecycleEvent> Known(IReadOnlyList<LifecycleEvent> events)
    {
        for (int i = 0; i < events.Count; i++) Known(events[i]);
        return events;
    }

    private static LifecycleEvent Known(LifecycleEvent e) => JournalVocabulary.IsEvent(e.GetType()) ? e
        : throw new ArgumentException($"{nameof(JournalSerializer)} cannot serialize {e.GetType()}: not an event of the journal's vocabulary");

    /// <inheritdoc />
    public override object FromBinary(byte[] bytes, string manifest) => Read(bytes, manifest);

    /// <summary>The serializer's id, fixed: rows name it.</summary>
    internal const int Id = 7741;

    /// <summary>Reads an event or snapshot written by this serializer with <paramref name="manifest"/>.</summary>
    /// <exception cref="JournalFormatException">The payload is corrupt or the manifest unknown.</exception>
    internal static object Read(byte[] bytes, string manifest) => manifest switch
    {
        BatchManifest => ReadBatch(bytes),
        EventManifest => Deserialize<LifecycleEvent>(bytes),
        SnapshotManifest => Deserialize<LifecycleJournal.Snapshot>(bytes),
        _ => throw new JournalFormatException($"unknown manifest '{manifest}'"),
    };

    /// <summary>Reads a payload of one event (manifest <c>E1</c>) written by this serializer; journal rows hold batches of events (manifest <c>B1</c>) besides.</summary>
    public static LifecycleEvent ReadEvent(byte[] bytes) => Deserialize<LifecycleEvent>(bytes);

    private static LifecycleEventBatch ReadBatch(byte[] bytes)
    {
        var events = Deserialize<LifecycleEvent[]>(bytes);
        if (events.Length == 0) throw new JournalFormatException("empty event batch");
        foreach (var e in events)
            if (e is null) throw new JournalFormatException("null event in a batch");
        return new LifecycleEventBatch(events);
    }

    private static T Deserialize<T>(byte[] bytes)
    {
        try
        {
            return JsonSerializer.Deserialize<T>(bytes, Options) ?? throw new JournalFormatException("empty payload");
        }
        catch (JsonException e)
        {
            throw new JournalFormatException($"corrupt {typeof(T).Name}: {e.Message}");
        }
    }
}

/// <summary>A journal payload is corrupt or of an unknown version.</summary>
public sealed class JournalFormatException(string message) : Exception(message);
