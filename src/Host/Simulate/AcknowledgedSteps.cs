using BufferActors.Actors;
using BufferActors.Actors.Persistence;
using BufferActors.Actors.Persistence.Replay;

namespace BufferActors.Host.Simulate;

/// <summary>
/// The steps a caller was told succeeded, each with the event the journal must hold for it: a
/// lifecycle answers only once its events are durable, so an acknowledged step whose event is not in
/// the journal is a broken promise (issue: "no acknowledged event missing from the journal").
/// </summary>
internal sealed class AcknowledgedSteps
{
    private readonly List<(LifecycleId Id, Type Event, string Step)> _steps = [];

    public int Count => _steps.Count;

    /// <summary>The steps whose event is missing from <paramref name="journal"/>, as violations.</summary>
    public IEnumerable<string> MissingFrom(IReadOnlyList<JournalEntry> journal)
    {
        var present = journal.Select(e => (e.Event.Id, e.Event.GetType())).ToHashSet();
        return _steps.Where(s => !present.Contains((s.Id, s.Event)))
            .Select(s => $"journal: {s.Step} of {s.Id} was acknowledged but no {s.Event.Name} event was journaled");
    }

    /// <summary>The event a step's acknowledgement promises, by the step's name (as the crash-campaign child prints it).</summary>
    public static Type? EventOf(string step) => step switch
    {
        "export" => typeof(Exported),
        "attach" => typeof(Attached),
        "detach" => typeof(Detached),
        "release" => typeof(ReleaseRequested),
        "released" => typeof(Released),
        "import" => typeof(Granted),
        "release-import" => typeof(AccessEnded),
        "map" => typeof(Mapped),
        "unmap" => typeof(Unmapped),
        _ => null,
    };

    /// <summary>The caller was told <paramref name="step"/> of <paramref name="id"/> succeeded (see <see cref="EventOf"/>); false for an unknown step.</summary>
    public bool Add(LifecycleId id, string step)
    {
        if (EventOf(step) is not { } type) return false;
        _steps.Add((id, type, step));
        return true;
    }
}
