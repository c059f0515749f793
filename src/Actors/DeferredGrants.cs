namespace BufferActors.Actors;

/// <summary>
/// Grants of a released import whose end the kernel deferred because the frontend still maps them: the
/// grant table keeps them, and their pages, until the frontend unmaps (or dies).
/// </summary>
/// <param name="Id">The import lifecycle that granted them.</param>
/// <param name="Refs">The refs still pending, as last seen.</param>
/// <param name="Since">When the release found them deferred.</param>
public sealed record DeferredGrants(LifecycleId Id, IReadOnlyList<uint> Refs, DateTimeOffset Since);
