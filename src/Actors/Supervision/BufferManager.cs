using BufferActors.Actors.Lifecycles;
using BufferActors.Actors.Persistence;

namespace BufferActors.Actors.Supervision;

/// <summary>Messages and props of <see cref="BufferManagerActor"/>, the root of BufferActors.</summary>
public static class BufferManager
{
    /// <summary>Settings of a manager.</summary>
    /// <param name="Quotas">Per-domain quotas.</param>
    /// <param name="Export">Timing of export lifecycles.</param>
    public sealed record Settings(DomainLifecycles.Quotas Quotas, ExportSettings Export)
    {
        /// <summary>The kinds of lifecycle the host runs; null (the default): <see cref="LifecycleKinds.Default"/> with <see cref="Export"/>.</summary>
        public LifecycleKinds? Kinds { get; init; }

        /// <summary>Default quotas and timings.</summary>
        public static Settings Default { get; } = new(DomainLifecycles.Quotas.Default, ExportSettings.Default);
    }

    /// <summary>Status of every domain.</summary>
    public sealed record GetStatus;

    /// <summary>The answer to <see cref="GetStatus"/>.</summary>
    public sealed record Status(IReadOnlyList<DomainLifecycles.DomainStatus> Domains)
    {
        /// <summary>Live lifecycles over all domains.</summary>
        public int LiveLifecycles => Domains.Sum(d => d.Lifecycles.Count);

        /// <summary>Released imports whose grants the kernel deferred and has not ended yet, oldest first (see <see cref="DeviceSession.Deferred"/>).</summary>
        public IReadOnlyList<DeferredGrants> Deferred { get; init; } = [];
    }

    /// <summary>Props of the root manager.</summary>
    public static Props Props(DeviceSession session, Settings? settings = null) =>
        Props(LifecycleServices.Unjournaled(session), settings);

    /// <summary>Props of the root manager with explicit services (e.g. a journal).</summary>
    public static Props Props(LifecycleServices services, Settings? settings = null)
    {
        var resolved = settings ?? Settings.Default; // plain captures only: see ExportedBuffer.Props
        return Akka.Actor.Props.Create(() => new BufferManagerActor(services, resolved));
    }

    /// <summary>
    /// Answered <see cref="JournalOutbox.Drained"/> once every event lifecycles owed the journal before it (the ends of
    /// lifecycles stopped by failures, releases seen after a lifecycle stopped) is durable; at once without a journal.
    /// </summary>
    public sealed record FlushJournal;

    /// <summary>
    /// Published on the event stream when every grant of a released import, some deferred at its release because the
    /// frontend still mapped them, ended (found by the manager's reap timer).
    /// </summary>
    public sealed record AccessEnded(LifecycleId Import);

    /// <summary>Ask what the start-up recovery found.</summary>
    public sealed record GetRecoveryReport;

    /// <summary>
    /// What a start on an existing journal found: lifecycles adopted again (still live on this device
    /// instance), lifecycles closed as <c>Reclaimed</c> (their device instance died with the old process),
    /// and the frontend domains whose backends must tell them their buffers are gone.
    /// </summary>
    public sealed record RecoveryReport(
        long EventsRecovered,
        bool FromSnapshot,
        IReadOnlyList<LifecycleId> Adopted,
        IReadOnlyList<(LifecycleId Id, string Reason)> Reclaimed,
        IReadOnlyList<DomainId> FrontendsToTell)
    {
        /// <summary>
        /// Imports whose grants the kernel still keeps on its deferred list (their frontends still map them), found in
        /// the journal or left deferred by the old process's gntdev file: watched until they end, when the end is journaled.
        /// </summary>
        public IReadOnlyList<DeferredGrants> Deferred { get; init; } = [];

        /// <summary>The report of a start without a journal.</summary>
        public static RecoveryReport Empty { get; } = new(0, false, [], [], []);
    }
}
