namespace BufferActors.Actors.Persistence.Replay;

/// <summary>The rules a replayed journal is checked against (see <see cref="JournalTimeline"/> for each rule's exact definition).</summary>
public enum AnomalyKind
{
    /// <summary>A lifecycle has no terminal event: it was live when the journal ended (or the backend died holding it).</summary>
    NeverFinished,
    /// <summary>An export was <see cref="Released"/> while consumers were still recorded as attached.</summary>
    UnmapBeforeDetach,
    /// <summary>A <see cref="WaitRequested"/> has no <see cref="WaitAnswered"/> for the same waiter.</summary>
    WaitNeverAnswered,
    /// <summary>An export ended <see cref="Released"/> with reservation pages lowered and not restored.</summary>
    ReservationNotRestored,
    /// <summary>An import's <see cref="Granted"/> refs were never ended: no <see cref="AccessEnded"/> or <see cref="Reclaimed"/>.</summary>
    RefsNeverEnded,
    /// <summary>An event changed a lifecycle's state in a way its kind never does (<see cref="Lifecycles.ILifecycleKind.Transitions"/>).</summary>
    UnexpectedTransition,
}
