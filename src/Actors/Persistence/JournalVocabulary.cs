using System.Collections.Frozen;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;
using BufferActors.Actors.Lifecycles;

namespace BufferActors.Actors.Persistence;

/// <summary>
/// What the journal can write and read, gathered from the kinds (<see cref="LifecycleKinds.Default"/>) rather than
/// listed here: each kind's events with their names (<see cref="ILifecycleKind.Events"/>), its states and the
/// transitions it allows (<see cref="ILifecycleKind.Transitions"/>). The serializer, replay and re-execution read
/// events through it, so a new journaled kind is known to all of them by its registration in
/// <see cref="LifecycleKinds.Default"/>.
/// </summary>
public static class JournalVocabulary
{
    private static readonly LifecycleKinds Kinds = LifecycleKinds.Default(ExportSettings.Default);

    /// <summary>Every journaled event type with its name (the JSON discriminator <c>$e</c>).</summary>
    public static IReadOnlyList<JsonDerivedType> Events { get; } = [.. CommonLifecycleEvents.Types, .. Kinds.All.SelectMany(k => k.Events)];

    private static readonly FrozenDictionary<Type, string> Names =
        Events.ToFrozenDictionary(t => t.DerivedType, t => (string)t.TypeDiscriminator!);

    private static readonly FrozenDictionary<LifecycleKind, FrozenSet<LifecycleTransition>> TransitionsByKind =
        Kinds.All.ToFrozenDictionary(k => k.Kind, k => k.Transitions.ToFrozenSet());

    private static readonly FrozenDictionary<string, LifecycleState> StatesByName = Kinds.All
        .SelectMany(k => k.Transitions.SelectMany(t => t.From is null ? [t.To] : new[] { t.From, t.To }))
        .DistinctBy(s => s.Name)
        .ToFrozenDictionary(s => s.Name, StringComparer.Ordinal);

    /// <summary>The journal's name of <paramref name="e"/> (<c>exported</c>, <c>release-requested</c>...).</summary>
    public static string EventName(LifecycleEvent e) => Names.TryGetValue(e.GetType(), out var name) ? name : e.GetType().Name;

    /// <summary>The state named <paramref name="name"/> of a journaled kind; false for any other name.</summary>
    public static bool TryGetState(string name, out LifecycleState state) => StatesByName.TryGetValue(name, out state!);

    /// <summary>The transitions <paramref name="kind"/> allows; empty for a kind the journal does not know.</summary>
    public static IReadOnlySet<LifecycleTransition> TransitionsOf(LifecycleKind kind) =>
        TransitionsByKind.TryGetValue(kind, out var t) ? t : FrozenSet<LifecycleTransition>.Empty;

    /// <summary>True when <paramref name="type"/> is an event of the vocabulary, which the journal serializer writes.</summary>
    internal static bool IsEvent(Type type) => Names.ContainsKey(type);

    /// <summary>Makes <see cref="LifecycleEvent"/> polymorphic over <see cref="Events"/> (a System.Text.Json type-info modifier).</summary>
    internal static void AddEventTypes(JsonTypeInfo info)
    {
        if (info.Type != typeof(LifecycleEvent)) return;
        info.PolymorphismOptions = new JsonPolymorphismOptions { TypeDiscriminatorPropertyName = "$e" };
        foreach (var type in Events) info.PolymorphismOptions.DerivedTypes.Add(type);
    }
}
