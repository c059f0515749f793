using Akka.Persistence.Journal;

namespace BufferActors.Actors.Persistence;

/// <summary>
/// Tags every journal row with its events' domain (<c>domain-N</c>) and kind (<c>export</c>, <c>import</c>, <c>map</c>)
/// for queries: a row holds one event, or a batch of one domain's events of one kind (<see cref="LifecycleEventBatch"/>).
/// </summary>
public sealed class LifecycleTagging : IWriteEventAdapter
{
    /// <inheritdoc />
    public string Manifest(object evt) => string.Empty;

    /// <inheritdoc />
    public object ToJournal(object evt) => evt switch
    {
        LifecycleEventBatch b => new Tagged(b, TagsOf(b.Events[0])),
        LifecycleEvent e => new Tagged(e, TagsOf(e)),
        _ => evt,
    };

    /// <summary>The tags of <paramref name="e"/>: its domain, then its kind.</summary>
    internal static string[] TagsOf(LifecycleEvent e) => [$"domain-{e.Id.Domain.Value}", e.Id.Kind.Name];
}
