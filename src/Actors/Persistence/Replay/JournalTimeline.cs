namespace BufferActors.Actors.Persistence.Replay;

/// <summary>
/// Every lifecycle's timeline rebuilt from the lifecycle journal, and the anomalies it shows. A pure model:
/// <see cref="Build"/> takes the journal's events in order and touches nothing else.
/// </summary>
/// <remarks>
/// The rules, each reported as an <see cref="Anomaly"/> naming the event that shows it:
/// <list type="bullet">
/// <item><see cref="AnomalyKind.NeverFinished"/>: the lifecycle has no terminal event (<see cref="Released"/>,
/// <see cref="AccessEnded"/>, <see cref="Unmapped"/>, <see cref="Failed"/>, <see cref="Reclaimed"/>). In a journal
/// of a running backend these are simply live; after a crash they are what the next start adopts or reclaims.</item>
/// <item><see cref="AnomalyKind.UnmapBeforeDetach"/>: a <see cref="Released"/> while the fold still records
/// attachments (an <see cref="Attached"/> without its <see cref="Detached"/>).</item>
/// <item><see cref="AnomalyKind.WaitNeverAnswered"/>: a <see cref="WaitRequested"/> with no <see cref="WaitAnswered"/>
/// for the same waiter anywhere in the lifecycle's events, whether or not the lifecycle finished.</item>
/// <item><see cref="AnomalyKind.ReservationNotRestored"/>: the lifecycle's terminal event is <see cref="Released"/>
/// and its <see cref="ReservationDecreased"/> pages exceed its <see cref="ReservationRestored"/> pages, counting
/// every event of the lifecycle (a restore journaled in the same write just after the release counts). Exports
/// that ended <see cref="Reclaimed"/> or <see cref="Failed"/> are not flagged: the reservation went back with the
/// gntdev instance, or was never lowered. Live exports are not flagged: they still hold it.</item>
/// <item><see cref="AnomalyKind.RefsNeverEnded"/>: an import with a <see cref="Granted"/> and no later
/// <see cref="AccessEnded"/> or <see cref="Reclaimed"/>, live or not.</item>
/// <item><see cref="AnomalyKind.UnexpectedTransition"/>: the lifecycle's first event does not open it, or a later event
/// changes its state in a way its kind does not list (<see cref="Lifecycles.ILifecycleKind.Transitions"/>, the
/// diagrams in docs/lifecycles.md).</item>
/// </list>
/// Events after a lifecycle's terminal event are kept in its <see cref="LifecycleTimeline.Events"/> and count for
/// the wait and reservation rules, but open no new span.
/// </remarks>
public sealed class JournalTimeline
{
    private JournalTimeline(IReadOnlyList<LifecycleTimeline> lifecycles, IReadOnlyList<Anomaly> anomalies, long eventCount,
        long? firstSequenceNr, long? lastSequenceNr)
    {
        Lifecycles = lifecycles;
        Anomalies = anomalies;
        EventCount = eventCount;
        FirstSequenceNr = firstSequenceNr;
        LastSequenceNr = lastSequenceNr;
        Live = [.. lifecycles.Where(l => !l.IsFinished).Select(l => l.Id)];
        if (lifecycles.Count > 0)
        {
            Start = lifecycles.Min(l => l.First);
            End = lifecycles.Max(l => l.Last);
        }
    }

    /// <summary>Every lifecycle in the journal, in the order its first event was journaled.</summary>
    public IReadOnlyList<LifecycleTimeline> Lifecycles { get; }

    /// <summary>Every broken rule, grouped by lifecycle (in <see cref="Lifecycles"/> order), then by sequence number.</summary>
    public IReadOnlyList<Anomaly> Anomalies { get; }

    /// <summary>The lifecycles with no terminal event.</summary>
    public IReadOnlyList<LifecycleId> Live { get; }

    /// <summary>How many events were replayed.</summary>
    public long EventCount { get; }

    /// <summary>Sequence number of the first event, if any.</summary>
    public long? FirstSequenceNr { get; }

    /// <summary>Sequence number of the last event, if any.</summary>
    public long? LastSequenceNr { get; }

    /// <summary>Time of the earliest event, if any.</summary>
    public DateTimeOffset? Start { get; }

    /// <summary>Time of the latest event, if any.</summary>
    public DateTimeOffset? End { get; }

    /// <summary>Rebuilds every lifecycle from the journal's events.</summary>
    /// <param name="entries">The journal's events in strictly increasing sequence order (as the journal returns them).</param>
    /// <exception cref="ArgumentException">The entries are out of order: a timeline built from them would be wrong.</exception>
    public static JournalTimeline Build(IEnumerable<JournalEntry> entries)
    {
        ArgumentNullException.ThrowIfNull(entries);
        var builders = new Dictionary<LifecycleId, LifecycleTimelineBuilder>();
        long count = 0;
        long? firstSeq = null, lastSeq = null;
        foreach (var entry in entries)
        {
            if (entry.Event is null) throw new ArgumentException($"entry at sequence {entry.SequenceNr} has no event", nameof(entries));
            if (lastSeq is { } previous && entry.SequenceNr <= previous)
                throw new ArgumentException($"entries must be in increasing sequence order: {entry.SequenceNr} came after {previous}", nameof(entries));
            firstSeq ??= entry.SequenceNr;
            lastSeq = entry.SequenceNr;
            count++;
            if (!builders.TryGetValue(entry.Event.Id, out var builder))
                builders.Add(entry.Event.Id, builder = new LifecycleTimelineBuilder(entry.Event.Id, entry));
            builder.Add(entry);
        }

        var lifecycles = new List<LifecycleTimeline>(builders.Count);
        var anomalies = new List<Anomaly>();
        foreach (var builder in builders.Values.OrderBy(b => b.FirstSequenceNr))
        {
            var (timeline, found) = builder.Build();
            lifecycles.Add(timeline);
            anomalies.AddRange(found.OrderBy(a => a.SequenceNr).ThenBy(a => a.Kind));
        }
        return new JournalTimeline(lifecycles, anomalies, count, firstSeq, lastSeq);
    }
}
