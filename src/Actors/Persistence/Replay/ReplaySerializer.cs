using Akka.Serialization;

namespace BufferActors.Actors.Persistence.Replay;

/// <summary>
/// Takes the place of <see cref="JournalSerializer"/> (same identifier) in the replay's actor system. Reading
/// never throws: a payload that does not deserialize becomes an <see cref="UnreadablePayload"/>, because an
/// exception thrown here would fail the query stream before the envelope carrying the sequence number exists.
/// </summary>
internal sealed class ReplaySerializer(ExtendedActorSystem system) : SerializerWithStringManifest(system)
{
    private readonly JournalSerializer _inner = new(system);

    /// <inheritdoc />
    public override int Identifier => _inner.Identifier;

    /// <inheritdoc />
    public override string Manifest(object o) => _inner.Manifest(o);

    /// <inheritdoc />
    public override byte[] ToBinary(object obj) => _inner.ToBinary(obj);

    /// <inheritdoc />
    public override object FromBinary(byte[] bytes, string manifest)
    {
        try
        {
            return _inner.FromBinary(bytes, manifest);
        }
#pragma warning disable CA1031 // any failure to read one payload is reported with its sequence number, never as a crash
        catch (Exception e)
#pragma warning restore CA1031
        {
            return new UnreadablePayload(manifest, e.Message);
        }
    }
}
