namespace BufferActors.Actors.Persistence.Replay;

/// <summary>One journaled event with its number in the one lifecycle journal.</summary>
/// <param name="SequenceNr">The event's number in the journal: its position, from 1, counting every event of every row in order (a row holds one event, or a batch of them); strictly increasing.</param>
/// <param name="Event">The event.</param>
public readonly record struct JournalEntry(long SequenceNr, LifecycleEvent Event);
