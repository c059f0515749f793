using Akka.Persistence.Journal;

namespace BufferActors.Actors.Persistence;

/// <summary>Tags every journaled event with its domain (<c>domain-N</c>) and kind (<c>export</c>, <c>import</c>, <c>map</c>) for queries.</summary>
public sealed class LifecycleTagging : IWriteEventAdapter
{
    /// <inheritdoc />
    public string Manifest(object evt) => string.Empty;

    /// <inheritdoc />
    public object ToJournal(object evt) => evt is LifecycleEvent e
        ? new Tagged(e, [$"domain-{e.Id.Domain.Value}", e.Id.Kind.Name])
        : evt;
}
