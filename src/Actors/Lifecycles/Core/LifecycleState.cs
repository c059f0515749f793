using System.Collections.Concurrent;

namespace BufferActors.Actors.Lifecycles;

/// <summary>
/// Where a lifecycle stands, as the fold of its events leaves it (<see cref="Persistence.LifecycleRecord.State"/>).
/// A state is one shared instance per name, compared by reference: the states every kind goes through are defined
/// here, each kind defines its own in its module (<see cref="Define"/>), and the journal writes the name.
/// </summary>
[System.Text.Json.Serialization.JsonConverter(typeof(Persistence.LifecycleStateJsonConverter))]
public sealed class LifecycleState
{
    // First: the static fields below are defined through it, in textual order.
    private static readonly ConcurrentDictionary<string, LifecycleState> Known = new(StringComparer.Ordinal);

    /// <summary>Asked for; nothing of the kernel's is held yet (never durable alone: journaled with its outcome).</summary>
    public static readonly LifecycleState Requested = Define("Requested");

    /// <summary>The owner asked to let go; the kernel has not finished yet.</summary>
    public static readonly LifecycleState Releasing = Define("Releasing");

    /// <summary>Refused, or failed before it held anything.</summary>
    public static readonly LifecycleState Failed = Define("Failed", terminal: true);

    /// <summary>Closed by a restart: its object died with the old device instance.</summary>
    public static readonly LifecycleState Reclaimed = Define("Reclaimed", terminal: true);

    private LifecycleState(string name, bool terminal)
    {
        Name = name;
        IsTerminal = terminal;
    }

    /// <summary>The state's name, as the journal, the status and the diagrams in docs/lifecycles.md write it.</summary>
    public string Name { get; }

    /// <summary>True when the lifecycle is over in this state.</summary>
    public bool IsTerminal { get; }

    /// <summary>Defines the state <paramref name="name"/>, or returns it if it is defined already (with the same <paramref name="terminal"/>).</summary>
    /// <exception cref="ArgumentException">The name is empty, or defined already as the other of terminal and live.</exception>
    public static LifecycleState Define(string name, bool terminal = false)
    {
        if (string.IsNullOrEmpty(name) || !name.All(char.IsAsciiLetter))
            throw new ArgumentException($"a lifecycle state's name is letters, not '{name}'", nameof(name));
        var state = Known.GetOrAdd(name, static (n, t) => new LifecycleState(n, t), terminal);
        if (state.IsTerminal != terminal)
            throw new ArgumentException($"state {name} is defined already as {(state.IsTerminal ? "terminal" : "live")}", nameof(terminal));
        return state;
    }

    /// <summary>The defined state named <paramref name="name"/>; false for a name no module defined.</summary>
    public static bool TryParse(string name, out LifecycleState state) => Known.TryGetValue(name, out state!);

    /// <inheritdoc />
    public override string ToString() => Name;
}
