using Akka.Persistence.Journal;

namespace BufferActors.Actors.Persistence;

/// <summary>Tags every journaled event with its domain (<c>domain-N</c>) and kind (<c>export</c>, <c>import</c>, <c>map</c>) for queries.</summary>
public sealed class LifecycleTagging : IWriteEventAdapter
{
    /// <inheritdoc />
    public string Manifest(object evt) => string.Empty;

    /// <inheritdoc />
    public object ToJournal(object evt) => evt is LifecycleEvent e ? new Tagged(e, TagsOf(e)) : evt;

    /// <summary>The tags of <paramref name="e"/>: its domain, then its kind.</summary>
    internal static string[] TagsOf(LifecycleEvent e) => [$"domain-{e.Id.Domain.Value}", e.Id.Kind.Name];
}
