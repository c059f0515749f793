using BufferActors.Actors.Lifecycles;

namespace BufferActors.Actors.Api;

/// <summary>The grant map lifecycle's part of the embedding API (MAP_GRANT_REF, UNMAP_GRANT_REF).</summary>
public static class MapClient
{
    /// <summary>Maps a frontend's refs for CPU access.</summary>
    public static Task<GrantMap.Mapped> MapAsync(this BufferActorsClient client, DomainId domain, IReadOnlyList<uint> refs, bool readOnly = false, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(refs);
        return client.StartAsync<GrantMap.Mapped>(new GrantMap.Map(domain, refs, readOnly), ct);
    }

    /// <summary>Maps a frontend's refs on a file of their own for another process (e.g. a daemon's client), which mmaps them.</summary>
    public static Task<GrantMap.MappedForPeer> MapForPeerAsync(this BufferActorsClient client, DomainId domain, IReadOnlyList<uint> refs, bool readOnly = false, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(refs);
        return client.StartAsync<GrantMap.MappedForPeer>(new GrantMap.Map(domain, refs, readOnly, ForPeer: true), ct);
    }

    /// <summary>Unmaps a map.</summary>
    public static Task<GrantMap.Unmapped> UnmapAsync(this BufferActorsClient client, LifecycleId map, CancellationToken ct = default) =>
        client.SendAsync<GrantMap.Unmapped>(new GrantMap.Unmap(map), ct);
}
