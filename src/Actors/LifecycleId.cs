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
    // A kind is one byte, an index into the defined names: it is in every id, so in every message and event.
    private static readonly object Gate = new();
    private static string[] _names = [""]; // index 0: default(LifecycleKind), no kind
    private static int[] _orders = [int.MaxValue];
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, LifecycleKind> Known = new(StringComparer.Ordinal);
    private readonly byte _index;

    /// <summary>Foreign refs mapped for CPU access (MAP_GRANT_REF).</summary>
    public static readonly LifecycleKind Map = Define("map", 0);

    /// <summary>A dma-buf exported from a frontend's refs (DMABUF_EXP_FROM_REFS).</summary>
    public static readonly LifecycleKind Export = Define("export", 1);

    /// <summary>A dma-buf imported and granted to a frontend (DMABUF_IMP_TO_REFS).</summary>
    public static readonly LifecycleKind Import = Define("import", 2);

    private LifecycleKind(byte index) => _index = index;

    /// <summary>The kind's name as written in ids, tags and the journal: lower-case letters.</summary>
    public string Name => Volatile.Read(ref _names)[_index];

    /// <summary>Where the kind sorts in listings.</summary>
    public int Order => Volatile.Read(ref _orders)[_index];

    /// <summary>Every kind defined so far, in <see cref="Order"/>.</summary>
    public static IReadOnlyList<LifecycleKind> All => [.. Known.Values.OrderBy(k => k.Order).ThenBy(k => k.Name, StringComparer.Ordinal)];

    /// <summary>Defines the kind <paramref name="name"/> (lower-case letters), or returns it if it is defined already.</summary>
    public static LifecycleKind Define(string name, int order)
    {
        if (string.IsNullOrEmpty(name) || !name.All(char.IsAsciiLetterLower))
            throw new ArgumentException($"a lifecycle kind's name is lower-case letters, not '{name}'", nameof(name));
        if (Known.TryGetValue(name, out var known)) return known;
        lock (Gate)
        {
            if (Known.TryGetValue(name, out known)) return known;
            if (_names.Length > byte.MaxValue) throw new InvalidOperationException($"no more than {byte.MaxValue} lifecycle kinds can be defined");
            var kind = new LifecycleKind((byte)_names.Length);
            // Copied, not grown in place: readers index the arrays without a lock.
            Volatile.Write(ref _orders, [.. _orders, order]);
            Volatile.Write(ref _names, [.. _names, name]);
            Known[name] = kind;
            return kind;
        }
    }

    /// <summary>The defined kind named <paramref name="name"/> (any case); false for a name no module defined.</summary>
    public static bool TryParse(string name, out LifecycleKind kind) => Known.TryGetValue(name.ToLowerInvariant(), out kind);

    /// <inheritdoc />
    public bool Equals(LifecycleKind other) => _index == other._index;

    /// <inheritdoc />
    public override bool Equals(object? obj) => obj is LifecycleKind other && Equals(other);

    /// <inheritdoc />
    public override int GetHashCode() => _index;

    /// <inheritdoc />
    public int CompareTo(LifecycleKind other) => Order != other.Order ? Order.CompareTo(other.Order) : string.CompareOrdinal(Name, other.Name);

    /// <summary>Equal names.</summary>
    public static bool operator ==(LifecycleKind left, LifecycleKind right) => left.Equals(right);

    /// <summary>Different names.</summary>
    public static bool operator !=(LifecycleKind left, LifecycleKind right) => !left.Equals(right);

    /// <summary>The name with a capital, for people (<c>Export</c>).</summary>
    public override string ToString() => Name.Length == 0 ? "" : char.ToUpperInvariant(Name[0]) + Name[1..];
}
