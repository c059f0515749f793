using System.Text.Json;
using System.Text.Json.Serialization;
using BufferActors.Actors.Lifecycles;

namespace BufferActors.Actors.Persistence;

/// <summary>Writes a <see cref="LifecycleState"/> as its name; reads only the names of the journal's kinds (<see cref="JournalVocabulary"/>).</summary>
public sealed class LifecycleStateJsonConverter : JsonConverter<LifecycleState>
{
    /// <inheritdoc />
    public override LifecycleState Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        var name = reader.GetString() ?? throw new JsonException("lifecycle state is null");
        return JournalVocabulary.TryGetState(name, out var state) ? state : throw new JsonException($"unknown lifecycle state '{name}'");
    }

    /// <inheritdoc />
    public override void Write(Utf8JsonWriter writer, LifecycleState value, JsonSerializerOptions options) => writer.WriteStringValue(value.Name);
}
