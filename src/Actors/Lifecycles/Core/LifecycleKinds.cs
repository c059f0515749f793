namespace BufferActors.Actors.Lifecycles;

/// <summary>The kinds of lifecycle a host runs (<see cref="ILifecycleKind"/>), found by their name or by their request's type.</summary>
public sealed class LifecycleKinds
{
    private readonly Dictionary<LifecycleKind, ILifecycleKind> _byKind;
    private readonly Dictionary<Type, ILifecycleKind> _byRequest;

    private LifecycleKinds(IReadOnlyList<ILifecycleKind> kinds)
    {
        All = kinds;
        _byKind = kinds.ToDictionary(k => k.Kind);
        _byRequest = kinds.ToDictionary(k => k.RequestType);
    }

    /// <summary>The gntdev's three: grant maps, exports (with <paramref name="export"/>'s timing) and imports.</summary>
    public static LifecycleKinds Default(ExportSettings export) => new([new MapKind(), new ExportKind(export), new ImportKind()]);

    /// <summary>Every kind, in the order given.</summary>
    public IReadOnlyList<ILifecycleKind> All { get; }

    /// <summary>These kinds and <paramref name="kind"/> (replacing one of the same name).</summary>
    public LifecycleKinds With(ILifecycleKind kind) => new([.. All.Where(k => k.Kind != kind.Kind), kind]);

    /// <summary>The kind named <paramref name="kind"/>; throws for one this host does not run.</summary>
    public ILifecycleKind Of(LifecycleKind kind) =>
        _byKind.TryGetValue(kind, out var k) ? k : throw new ArgumentException($"this host runs no {kind} lifecycles", nameof(kind));

    /// <summary>The kind named <paramref name="kind"/>, or null if this host does not run it.</summary>
    public ILifecycleKind? Find(LifecycleKind kind) => _byKind.GetValueOrDefault(kind);

    /// <summary>The kind that <paramref name="request"/> starts, or null.</summary>
    public ILifecycleKind? ForRequest(object request) => _byRequest.GetValueOrDefault(request.GetType());
}
