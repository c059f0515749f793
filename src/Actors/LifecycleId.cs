namespace BufferActors.Actors;

/// <summary>
/// The stable identity of one lifecycle (grant map, export or import). Fd numbers are reused by the
/// kernel after close, so they are attributes of a lifecycle, never its identity.
/// </summary>
public readonly record struct LifecycleId(LifecycleKind Kind, DomainId Domain, long Sequence)
{
    /// <summary>The actor name of the lifecycle under its domain supervisor.</summary>
    public string ActorName => $"{Kind.ToString().ToLowerInvariant()}-{Sequence}";

    /// <inheritdoc />
    public override string ToString() => $"{Domain}/{ActorName}";
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
