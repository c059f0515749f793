using System.Text.Json;
using System.Text.Json.Serialization;

namespace BufferActors.Actors.Persistence;

/// <summary>Writes a <see cref="LifecycleId"/> as one short string, <c>export:1:42</c> (kind, domain, sequence).</summary>
public sealed class LifecycleIdJsonConverter : JsonConverter<LifecycleId>
{
    /// <inheritdoc />
    public override LifecycleId Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        var text = reader.GetString() ?? throw new JsonException("lifecycle id is null");
        var parts = text.Split(':');
        if (parts.Length != 3 || !LifecycleKind.TryParse(parts[0], out var kind)
            || !ushort.TryParse(parts[1], out var domain) || !long.TryParse(parts[2], out var sequence))
            throw new JsonException($"bad lifecycle id '{text}'");
        return new LifecycleId(kind, new DomainId(domain), sequence);
    }

    /// <inheritdoc />
    public override void Write(Utf8JsonWriter writer, LifecycleId value, JsonSerializerOptions options) =>
        writer.WriteStringValue($"{value.Kind.Name}:{value.Domain.Value}:{value.Sequence}");
}
