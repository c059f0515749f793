namespace BufferActors.Actors.Persistence.Replay;

/// <summary>One broken rule found in a replayed journal.</summary>
/// <param name="Lifecycle">The lifecycle it concerns.</param>
/// <param name="Kind">Which rule.</param>
/// <param name="Message">What happened, for people.</param>
/// <param name="SequenceNr">The journal event that shows it (e.g. the <see cref="Released"/> of an unmap before detach, the unanswered <see cref="WaitRequested"/>).</param>
public sealed record Anomaly(LifecycleId Lifecycle, AnomalyKind Kind, string Message, long SequenceNr);
