namespace BufferActors.Actors.Lifecycles;

/// <summary>Messages and props of <see cref="GrantMapActor"/>.</summary>
public static class GrantMap
{
    /// <summary>
    /// Start: map <paramref name="Refs"/> of <paramref name="Domain"/> for CPU access: in this process, or with
    /// <paramref name="ForPeer"/> on a file of its own that another process maps (answered with <see cref="MappedForPeer"/>).
    /// </summary>
    public sealed record Map(DomainId Domain, IReadOnlyList<uint> Refs, bool ReadOnly, bool ForPeer = false) : ILifecycleRequest
    {
        /// <inheritdoc />
        public int PageCount => Refs?.Count ?? 0;
    }

    /// <summary>Mapped; <paramref name="Pages"/> aliases the frontend's memory until unmapped.</summary>
    public sealed record Mapped(LifecycleId Id, PageView Pages);

    /// <summary>Mapped for another process: it mmaps the pages from <see cref="PeerGrantMapping.File"/> until unmapped.</summary>
    public sealed record MappedForPeer(LifecycleId Id, PeerGrantMapping Mapping);

    /// <summary>Unmap.</summary>
    public sealed record Unmap(LifecycleId Id) : ILifecycleCommand;

    /// <summary>Unmapped; the frontend may end its grants.</summary>
    public sealed record Unmapped(LifecycleId Id);

    /// <summary>Props for the actor of map lifecycle <paramref name="id"/>; the map comes with <see cref="StartLifecycle"/>.</summary>
    public static Props Props(LifecycleId id, LifecycleServices services) =>
        LifecycleProps.Of((id, services), static a => new GrantMapActor(a.id, a.services));
}
