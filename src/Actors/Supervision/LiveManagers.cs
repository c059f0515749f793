using System.Collections.Concurrent;

namespace BufferActors.Actors.Supervision;

/// <summary>
/// The paths of the managers running in one actor system, for the dead-letter answerers: each answers the dead letters
/// of its own manager's actors, and those of a manager that is gone, but leaves another live manager's to that
/// manager's answerer (which may route a command on instead of answering it "not found").
/// </summary>
internal sealed class LiveManagers : IExtension
{
    private readonly ConcurrentDictionary<ActorPath, byte> _paths = new();

    public static LiveManagers Of(ActorSystem system) => system.WithExtension<LiveManagers, Provider>();

    public void Add(ActorPath manager) => _paths.TryAdd(manager, 0);

    public void Remove(ActorPath manager) => _paths.TryRemove(manager, out _);

    /// <summary>The live manager whose actor <paramref name="path"/> is, if any.</summary>
    public ActorPath? Above(ActorPath path)
    {
        for (var p = path.Parent; p is not null && p.Depth > 0; p = p.Parent)
            if (_paths.ContainsKey(p)) return p;
        return null;
    }

    private sealed class Provider : ExtensionIdProvider<LiveManagers>
    {
        public override LiveManagers CreateExtension(ExtendedActorSystem system) => new();
    }
}
