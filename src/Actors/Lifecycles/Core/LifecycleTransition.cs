namespace BufferActors.Actors.Lifecycles;

/// <summary>
/// One change of state a kind allows (<see cref="ILifecycleKind.Transitions"/>): the journaled event named
/// <paramref name="Event"/> takes a lifecycle from <paramref name="From"/> (null: it does not exist yet) to
/// <paramref name="To"/>. Events that leave the state as it is (an attachment, a wait) are not transitions.
/// </summary>
public sealed record LifecycleTransition(LifecycleState? From, string Event, LifecycleState To);
