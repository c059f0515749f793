namespace BufferActors.Actors.Lifecycles;

/// <summary>What every lifecycle actor works with: the device, the journal, the clock.</summary>
/// <param name="Session">The grant device.</param>
/// <param name="Journal">The lifecycle journal, or null when lifecycles are not journaled.</param>
/// <param name="Clock">Time for event stamps (injectable so tests and replays control it).</param>
/// <param name="JournalTimeout">How long a lifecycle waits for the journal before treating the write as failed.</param>
/// <param name="Outbox">
/// Where a lifecycle sends the events it owes the journal when it cannot wait for them (<see cref="Persistence.JournalOutbox"/>);
/// the manager makes one when it has a journal and none is given.
/// </param>
public sealed record LifecycleServices(DeviceSession Session, IActorRef? Journal, TimeProvider Clock, TimeSpan JournalTimeout, IActorRef? Outbox = null)
{
    /// <summary>The instruments lifecycles and supervisors move; the manager makes (and ends) its own when none is given.</summary>
    public Diagnostics.BufferActorsMetrics? Metrics { get; init; }

    /// <summary>A context without a journal.</summary>
    public static LifecycleServices Unjournaled(DeviceSession session) => new(session, null, TimeProvider.System, TimeSpan.FromSeconds(10));
}
