namespace BufferActors.Actors.Persistence.Replay;

/// <summary>
/// Stands in for a journal payload that <see cref="JournalSerializer"/> could not read, so the replay stream
/// delivers it with its envelope — and its sequence number — instead of failing without saying where.
/// </summary>
internal sealed record UnreadablePayload(string Manifest, string Reason);
