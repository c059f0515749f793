namespace BufferActors.Actors;

/// <summary>
/// The stable identity of one lifecycle (grant map, export or import). Fd numbers are reused by the
/// kernel after close, so they are attributes of a lifecycle, never its identity.
/// </summary>
public readonly record struct LifecycleId(LifecycleKind Kind, DomainId Domain, long Sequence)
{
    /// <summary>The actor name of the lifecycle under its domain supervisor.</summary>
    public string ActorName => Kind switch
    {
        LifecycleKind.Map => "map-",
        LifecycleKind.Export => "export-",
        LifecycleKind.Import => "import-",
        _ => $"{Kind.ToString().ToLowerInvariant()}-",
    } + Sequence.ToString(System.Globalization.CultureInfo.InvariantCulture);

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
        if (dash <= 0 || !Enum.TryParse<LifecycleKind>(parts[1][..dash], ignoreCase: true, out var kind)
            || !kind.ToString().Equals(parts[1][..dash], StringComparison.OrdinalIgnoreCase) // a name, not a number
            || !long.TryParse(parts[1].AsSpan(dash + 1), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var sequence)) return false;
        id = new LifecycleId(kind, new DomainId(domain), sequence);
        return true;
    }
}

/// <summary>What a lifecycle manages.</summary>
public enum LifecycleKind
{
    /// <summary>Foreign refs mapped for CPU access (MAP_GRANT_REF).</summary>
    Map,
    /// <summary>A dma-buf exported from a frontend's refs (DMABUF_EXP_FROM_REFS).</summary>
    Export,
    /// <summary>A dma-buf imported and granted to a frontend (DMABUF_IMP_TO_REFS).</summary>
    Import,
}
