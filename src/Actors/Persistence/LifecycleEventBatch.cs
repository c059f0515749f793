namespace BufferActors.Actors.Persistence;

/// <summary>
/// One journal row: the events of one frontend domain and one lifecycle kind that one group commit writes, in the
/// order they were recorded. A row per event costs the database more than the rest of a journaled lifecycle (four
/// B-trees per row in the plugin's table, docs/performance.md), so a write is a row per domain and kind instead;
/// grouping by both keeps the row's tags (<see cref="LifecycleTagging"/>) exact, so a tag query finds only events
/// of its domain or kind. Journals also hold rows of one <see cref="LifecycleEvent"/> each, which every reader takes too.
/// </summary>
/// <param name="Events">The events, at least one, all of one domain and kind.</param>
internal sealed record LifecycleEventBatch(IReadOnlyList<LifecycleEvent> Events)
{
    /// <summary>
    /// Groups <paramref name="events"/> by domain and kind, each group in the order given, the groups in the order of
    /// their first event: every lifecycle's events stay in order (a lifecycle has one domain and kind).
    /// </summary>
    public static List<LifecycleEventBatch> Of(IEnumerable<LifecycleEvent> events)
    {
        var batches = new List<LifecycleEventBatch>();
        var groups = new List<((DomainId Domain, LifecycleKind Kind) Key, List<LifecycleEvent> Events)>(1);
        foreach (var e in events)
        {
            var key = (e.Id.Domain, e.Id.Kind);
            int i = 0; // few groups per write: a list beats a dictionary here
            while (i < groups.Count && groups[i].Key != key) i++;
            if (i == groups.Count) groups.Add((key, [e]));
            else groups[i].Events.Add(e);
        }
        foreach (var (_, group) in groups) batches.Add(new LifecycleEventBatch(group));
        return batches;
    }
}
