using BufferActors.Actors.Lifecycles;

namespace BufferActors.Actors.Persistence.Replay;

/// <summary>
/// Folds one lifecycle's events, in journal order, into its <see cref="LifecycleTimeline"/> and the anomalies
/// only its own events can show. The rules are order-insensitive where the actors are free to order events
/// within one atomic write (a <see cref="ReservationRestored"/> or <see cref="WaitAnswered"/> may be journaled
/// just before or just after the <see cref="Released"/> that ends the export).
/// </summary>
internal sealed class LifecycleTimelineBuilder(LifecycleId id, JournalEntry first)
{
    private readonly List<JournalEntry> _events = [];
    private readonly List<TimelineSpan> _spans = [];
    private readonly List<Anomaly> _anomalies = [];
    // Insertion order matters only for presentation: consumers in the order they attached.
    private readonly List<(string Consumer, string Label, DateTimeOffset From)> _attached = [];
    private readonly Dictionary<long, WaitRequested> _openWaits = [];
    private readonly Dictionary<long, long> _waitSequence = [];
    private LifecycleRecord _record = LifecycleRecord.Start(id, first.Event.At);
    private (SpanKind Kind, string Label, DateTimeOffset From)? _holding;
    private DateTimeOffset? _releasingFrom;
    private JournalEntry? _terminal;
    private int _decreased;
    private int _restored;
    private long _firstDecrease;
    private JournalEntry? _granted;
    private bool _grantEnded;

    /// <summary>The sequence number of the lifecycle's first event; orders lifecycles as the journal saw them start.</summary>
    public long FirstSequenceNr { get; } = first.SequenceNr;

    /// <summary>Applies the next event of this lifecycle.</summary>
    public void Add(JournalEntry entry)
    {
        var e = entry.Event;
        _events.Add(entry);
        switch (e)
        {
            case Exported x:
                _holding = (SpanKind.Exported, $"fd {x.Fd}, {x.PageCount} pages", x.At);
                break;
            case Mapped m:
                _holding = (SpanKind.Mapped, $"index {m.Index}", m.At);
                break;
            case Granted g:
                _holding = (SpanKind.Granted, $"{g.Refs.Length} refs", g.At);
                _granted = entry;
                break;
            case AccessDeferred d when _terminal is null:
                // The import is released: what it held ends here; the refs the frontend still maps are held from now on.
                CloseAll(d.At);
                _holding = (SpanKind.Deferred, $"{d.Refs.Length} refs still mapped by the frontend", d.At);
                break;
            case AccessEnded or Reclaimed:
                _grantEnded = true;
                break;
            case Attached a when _terminal is null && !_attached.Exists(x => x.Consumer == a.Consumer):
                _attached.Add((a.Consumer, $"{a.Consumer} ({a.Direction})", a.At));
                break;
            case Detached d:
                int i = _attached.FindIndex(x => x.Consumer == d.Consumer);
                if (i >= 0)
                {
                    _spans.Add(new TimelineSpan(SpanKind.Attached, _attached[i].Label, _attached[i].From, d.At));
                    _attached.RemoveAt(i);
                }
                break;
            case ReleaseRequested r when _terminal is null:
                _releasingFrom ??= r.At;
                break;
            case ReservationDecreased d:
                if (_decreased == 0) _firstDecrease = entry.SequenceNr;
                _decreased += d.Pages;
                break;
            case ReservationRestored r:
                _restored += r.Pages;
                break;
            case WaitRequested w:
                _openWaits[w.Waiter] = w;
                _waitSequence[w.Waiter] = entry.SequenceNr;
                break;
            case WaitAnswered w:
                _openWaits.Remove(w.Waiter);
                break;
        }

        // The attachments recorded at this moment are the fold *before* the terminal event applies.
        if (e is Released && !_record.Attachments.IsEmpty)
            _anomalies.Add(new Anomaly(id, AnomalyKind.UnmapBeforeDetach,
                $"{id} was released (sequence {entry.SequenceNr}) while still attached to {string.Join(", ", _record.Attachments.Keys.Order(StringComparer.Ordinal))}: " +
                "its pages were unmapped under a consumer that never detached", entry.SequenceNr));

        var before = _events.Count == 1 ? null : _record.State;
        _record = _record.Apply(e);
        CheckTransition(before, entry);
        if (e.IsTerminal && _terminal is null)
        {
            _terminal = entry;
            CloseAll(e.At);
        }
    }

    /// <summary>The lifecycle's timeline and every anomaly its events show.</summary>
    public (LifecycleTimeline Timeline, IReadOnlyList<Anomaly> Anomalies) Build()
    {
        var spans = new List<TimelineSpan>(_spans);
        // Whatever is still open at the end of the journal stays open (To = null).
        if (_holding is { } h) spans.Add(new TimelineSpan(h.Kind, h.Label, h.From, null));
        if (_releasingFrom is { } r) spans.Add(new TimelineSpan(SpanKind.Releasing, null, r, null));
        spans.AddRange(_attached.Select(a => new TimelineSpan(SpanKind.Attached, a.Label, a.From, null)));
        spans.Sort((a, b) => a.From != b.From ? a.From.CompareTo(b.From) : a.Kind.CompareTo(b.Kind));

        var last = _events[^1];
        var anomalies = new List<Anomaly>(_anomalies);
        string state = _record.State.Name;
        if (_terminal is null)
            anomalies.Add(new Anomaly(id, AnomalyKind.NeverFinished,
                $"{id} never finished: last event {Describe(last.Event)} (sequence {last.SequenceNr}) left it {state}, " +
                $"{Holding()}", last.SequenceNr));

        foreach (var (waiter, w) in _openWaits.OrderBy(x => x.Key))
            anomalies.Add(new Anomaly(id, AnomalyKind.WaitNeverAnswered,
                $"{id}: wait {waiter} (sequence {_waitSequence[waiter]}, timeout {w.Timeout}) was never answered" +
                (_terminal is null ? " and the lifecycle is still live" : $" although the lifecycle ended {state}"), _waitSequence[waiter]));

        // Only a Released export owes its reservation back: Reclaimed and Failed ones gave it back with the
        // gntdev instance (or never had it), and a live one still legitimately holds it.
        if (_terminal?.Event is Released && _decreased > _restored)
            anomalies.Add(new Anomaly(id, AnomalyKind.ReservationNotRestored,
                $"{id} was released (sequence {_terminal.Value.SequenceNr}) with {_decreased - _restored} of {_decreased} reservation pages " +
                $"never restored (lowered at sequence {_firstDecrease})", _firstDecrease));

        if (_granted is { } granted && !_grantEnded)
            anomalies.Add(new Anomaly(id, AnomalyKind.RefsNeverEnded,
                $"{id}: {((Granted)granted.Event).Refs.Length} refs granted at sequence {granted.SequenceNr} were never ended " +
                $"(no AccessEnded or Reclaimed; the lifecycle is {(_terminal is null ? "still live" : "over")}, state {state})", granted.SequenceNr));

        var timeline = new LifecycleTimeline(id, _terminal is not null, _events[0].Event.At, last.Event.At,
            _events.ToArray(), spans.ToArray(), _record);
        return (timeline, anomalies);
    }

    /// <summary>
    /// A change of state the lifecycle's kind does not allow (<see cref="ILifecycleKind.Transitions"/>) is an anomaly:
    /// the first event must open the lifecycle, and every later one that changes the state must be a listed transition.
    /// </summary>
    private void CheckTransition(LifecycleState? before, JournalEntry entry)
    {
        var after = _record.State;
        if (before == after) return;
        string name = JournalVocabulary.EventName(entry.Event);
        if (JournalVocabulary.TransitionsOf(id.Kind).Contains(new LifecycleTransition(before, name, after))) return;
        _anomalies.Add(new Anomaly(id, AnomalyKind.UnexpectedTransition,
            $"{id}: {name} (sequence {entry.SequenceNr}) took it from {before?.Name ?? "nothing"} to {after.Name}, which a {id.Kind} lifecycle never does",
            entry.SequenceNr));
    }

    private void CloseAll(DateTimeOffset at)
    {
        // The terminal event ends everything the lifecycle held, whatever the journal said before it.
        if (_holding is { } h) _spans.Add(new TimelineSpan(h.Kind, h.Label, h.From, at));
        _holding = null;
        if (_releasingFrom is { } r) _spans.Add(new TimelineSpan(SpanKind.Releasing, null, r, at));
        _releasingFrom = null;
        foreach (var a in _attached) _spans.Add(new TimelineSpan(SpanKind.Attached, a.Label, a.From, at));
        _attached.Clear();
    }

    private string Holding()
    {
        var held = new List<string>();
        if (_holding is { } h) held.Add($"{h.Kind.ToString().ToLowerInvariant()} ({h.Label})");
        if (!_record.Attachments.IsEmpty) held.Add($"attached to {string.Join(", ", _record.Attachments.Keys.Order(StringComparer.Ordinal))}");
        return held.Count == 0 ? "holding nothing recorded" : "still " + string.Join(", ", held);
    }

    private static string Describe(LifecycleEvent e) => e.GetType().Name;
}
