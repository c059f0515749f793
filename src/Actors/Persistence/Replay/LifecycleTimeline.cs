namespace BufferActors.Actors.Persistence.Replay;

/// <summary>Everything the journal says about one lifecycle, rebuilt by <see cref="JournalTimeline.Build"/>.</summary>
/// <param name="Id">The lifecycle.</param>
/// <param name="IsFinished">True when a terminal event (<see cref="LifecycleEvent.IsTerminal"/>) was journaled for it.</param>
/// <param name="First">Time of its first event.</param>
/// <param name="Last">Time of its last event.</param>
/// <param name="Events">Its events in journal order, including any journaled after the terminal one.</param>
/// <param name="Spans">What it held and did over time, ordered by start.</param>
/// <param name="Record">The fold of all its events.</param>
public sealed record LifecycleTimeline(
    LifecycleId Id,
    bool IsFinished,
    DateTimeOffset First,
    DateTimeOffset Last,
    IReadOnlyList<JournalEntry> Events,
    IReadOnlyList<TimelineSpan> Spans,
    LifecycleRecord Record)
{
    /// <summary>Its state as folded by <see cref="LifecycleRecord.Apply"/> after its last event.</summary>
    public Lifecycles.LifecycleState State => Record.State;

    /// <summary>Export, import or map.</summary>
    public LifecycleKind Kind => Id.Kind;

    /// <summary>The frontend domain.</summary>
    public DomainId Domain => Id.Domain;

    /// <summary>From the first event to the last.</summary>
    public TimeSpan Duration => Last - First;
}
