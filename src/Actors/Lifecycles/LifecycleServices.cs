namespace BufferActors.Actors.Lifecycles;

/// <summary>What every lifecycle actor works with: the device, the journal, the clock.</summary>
/// <param name="Session">The grant device.</param>
/// <param name="Journal">The lifecycle journal, or null when lifecycles are not journaled.</param>
/// <param name="Clock">Time for event stamps (injectable so tests and replays control it).</param>
/// <param name="JournalTimeout">How long a lifecycle waits for the journal before treating the write as failed.</param>
public sealed record LifecycleServices(DeviceSession Session, IActorRef? Journal, TimeProvider Clock, TimeSpan JournalTimeout)
{
    /// <summary>A context without a journal.</summary>
    public static LifecycleServices Unjournaled(DeviceSession session) => new(session, null, TimeProvider.System, TimeSpan.FromSeconds(10));
}
