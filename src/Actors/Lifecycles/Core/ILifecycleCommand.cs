namespace BufferActors.Actors.Lifecycles;

/// <summary>A command addressed to one existing lifecycle; routed by its <see cref="Id"/>.</summary>
public interface ILifecycleCommand
{
    /// <summary>The lifecycle addressed.</summary>
    LifecycleId Id { get; }

    /// <summary>The answer when the lifecycle no longer exists (it finished, or stopped with this command queued).</summary>
    object NotFoundAnswer() => new OperationFailed(ErrorCode.NotFound, $"no live lifecycle {Id}");
}

/// <summary>
/// From the domain supervisor to a lifecycle actor, new or finished (a reused export actor): start lifecycle
/// <paramref name="Id"/> with <paramref name="Request"/> (the request of its kind) and answer
/// <paramref name="Requester"/>. The start is a message rather than work in PreStart so that a failure in
/// it stops the actor through its PostStop, like a failure in any handler: Akka skips PostStop for an
/// actor whose PreStart threw.
/// </summary>
internal sealed record StartLifecycle(LifecycleId Id, object Request, IActorRef Requester);

/// <summary>
/// Sent by a lifecycle to its supervisor when it has released everything. The supervisor stops
/// routing to it and answers for it from then on, then sends <see cref="Retire"/>: queued behind any
/// command already forwarded, so every request that reached the lifecycle is answered before it stops.
/// </summary>
public sealed record LifecycleFinished(LifecycleId Id);

/// <summary>The supervisor's go-ahead for a finished lifecycle to stop.</summary>
public sealed record Retire
{
    /// <summary>The one instance.</summary>
    public static Retire Instance { get; } = new();
}

/// <summary>
/// From a lifecycle to its domain supervisor: it was quarantined (held by someone else past its release), and holds
/// <paramref name="PageCount"/> pages until it ends; the supervisor counts it against the domain's quarantine cap.
/// </summary>
public sealed record LifecycleQuarantined(LifecycleId Id, int PageCount);
