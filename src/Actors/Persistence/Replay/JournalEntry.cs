namespace BufferActors.Actors.Persistence.Replay;

/// <summary>One journaled event with the sequence number the journal gave it (its position in the one lifecycle journal).</summary>
/// <param name="SequenceNr">The event's sequence number under the journal's persistence id; strictly increasing.</param>
/// <param name="Event">The event.</param>
public readonly record struct JournalEntry(long SequenceNr, LifecycleEvent Event);
