namespace BufferActors.Actors;

/// <summary>
/// The stable identity of one lifecycle (grant map, export or import). Fd numbers are reused by the
/// kernel after close, so they are attributes of a lifecycle, never its identity.
/// </summary>
public readonly record struct LifecycleId(LifecycleKind Kind, DomainId Domain, long Sequence)
{
    /// <summary>The actor name of the lifecycle under its domain supervisor.</summary>
    public string ActorName => Kind.Name + "-" + Sequence.ToString(System.Globalization.CultureInfo.InvariantCulture);

    /// <inheritdoc />
    public override string ToString() => $"{Domain}/{ActorName}";

    /// <summary>Reads an id as <see cref="ToString"/> writes it (<c>d1/export-42</c>); false for anything else.</summary>
    public static bool TryParse(string text, out LifecycleId id)
    {
        id = default;
        var parts = text.Split('/');
        if (parts.Length != 2 || !parts[0].StartsWith('d')
            || !ushort.TryParse(parts[0].AsSpan(1), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var domain)) return false;
        int dash = parts[1].LastIndexOf('-');
        if (dash <= 0 || !LifecycleKind.TryParse(parts[1][..dash], out var kind)
            || !long.TryParse(parts[1].AsSpan(dash + 1), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var sequence)) return false;
        id = new LifecycleId(kind, new DomainId(domain), sequence);
        return true;
    }
}

/// <summary>
/// What a lifecycle manages: a name, as ids, tags and the journal write it (<c>export</c>), and an order for
/// listings. The three kinds of the gntdev are defined here; a further kind is defined once by its module
/// (<see cref="Define"/>), so that nothing else has to name it.
/// </summary>
public readonly struct LifecycleKind : IEquatable<LifecycleKind>, IComparable<LifecycleKind>
{
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, LifecycleKind> Known = new(StringComparer.Ordinal);

    /// <summary>Foreign refs mapped for CPU access (MAP_GRANT_REF).</summary>
    public static readonly LifecycleKind Map = Define("map", 0);

    /// <summary>A dma-buf exported from a frontend's refs (DMABUF_EXP_FROM_REFS).</summary>
    public static readonly LifecycleKind Export = Define("export", 1);

    /// <summary>A dma-buf imported and granted to a frontend (DMABUF_IMP_TO_REFS).</summary>
    public static readonly LifecycleKind Import = Define("import", 2);

    private readonly int _hash; // kinds key the supervisors' tables on every start and finish: hashed once

    private LifecycleKind(string name, int order)
    {
        Name = name;
        Order = order;
        _hash = name.GetHashCode(StringComparison.Ordinal);
    }

    /// <summary>The kind's name as written in ids, tags and the journal: lower-case letters.</summary>
    public string Name { get; }

    /// <summary>Where the kind sorts in listings.</summary>
    public int Order { get; }

    /// <summary>Every kind defined so far, in <see cref="Order"/>.</summary>
    public static IReadOnlyList<LifecycleKind> All => [.. Known.Values.OrderBy(k => k.Order).ThenBy(k => k.Name, StringComparer.Ordinal)];

    /// <summary>Defines the kind <paramref name="name"/> (lower-case letters), or returns it if it is defined already.</summary>
    public static LifecycleKind Define(string name, int order)
    {
        if (string.IsNullOrEmpty(name) || !name.All(char.IsAsciiLetterLower))
            throw new ArgumentException($"a lifecycle kind's name is lower-case letters, not '{name}'", nameof(name));
        return Known.GetOrAdd(name, n => new LifecycleKind(n, order));
    }

    /// <summary>The defined kind named <paramref name="name"/> (any case); false for a name no module defined.</summary>
    public static bool TryParse(string name, out LifecycleKind kind) => Known.TryGetValue(name.ToLowerInvariant(), out kind);

    /// <inheritdoc />
    public bool Equals(LifecycleKind other) => ReferenceEquals(Name, other.Name) || string.Equals(Name, other.Name, StringComparison.Ordinal);

    /// <inheritdoc />
    public override bool Equals(object? obj) => obj is LifecycleKind other && Equals(other);

    /// <inheritdoc />
    public override int GetHashCode() => _hash;

    /// <inheritdoc />
    public int CompareTo(LifecycleKind other) => Order != other.Order ? Order.CompareTo(other.Order) : string.CompareOrdinal(Name, other.Name);

    /// <summary>Equal names.</summary>
    public static bool operator ==(LifecycleKind left, LifecycleKind right) => left.Equals(right);

    /// <summary>Different names.</summary>
    public static bool operator !=(LifecycleKind left, LifecycleKind right) => !left.Equals(right);

    /// <summary>The name with a capital, for people (<c>Export</c>).</summary>
    public override string ToString() => Name is null ? "" : char.ToUpperInvariant(Name[0]) + Name[1..];
}
