namespace BufferActors.Actors.Lifecycles;

/// <summary>
/// A request that starts a lifecycle (an export, an import, a map...): the manager gives it an id and routes it to the
/// supervisor of <see cref="Domain"/>, which checks its quotas against <see cref="PageCount"/>.
/// </summary>
public interface ILifecycleRequest
{
    /// <summary>The frontend domain the lifecycle belongs to.</summary>
    DomainId Domain { get; }

    /// <summary>The pages the lifecycle will hold; refused unless 1 up to the device's page limit.</summary>
    int PageCount { get; }
}
