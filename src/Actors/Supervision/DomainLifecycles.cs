using BufferActors.Actors.Lifecycles;

namespace BufferActors.Actors.Supervision;

/// <summary>Messages and props of <see cref="DomainSupervisorActor"/>.</summary>
public static class DomainLifecycles
{
    /// <summary>Per-domain limits, refused before the hypervisor's own ceilings are reached.</summary>
    /// <param name="MaxBuffers">Live exports + imports.</param>
    /// <param name="MaxPages">Pages over all live lifecycles.</param>
    public sealed record Quotas(int MaxBuffers, long MaxPages)
    {
        /// <summary>64 buffers, 1 Mi pages (4 GiB); 16 quarantined exports or 256 Ki quarantined pages (1 GiB).</summary>
        public static Quotas Default { get; } = new(64, 1 << 20);

        /// <summary>
        /// Quarantined exports (released, still held past the quarantine time) a domain may have: at this many, its new
        /// exports are refused until some are released or the domain is destroyed.
        /// </summary>
        public int MaxQuarantinedBuffers { get; init; } = 16;

        /// <summary>Pages of quarantined exports a domain may have, as <see cref="MaxQuarantinedBuffers"/>.</summary>
        public long MaxQuarantinedPages { get; init; } = 1 << 18;
    }

    /// <summary>Start a lifecycle of <paramref name="Request"/>'s kind under a fresh id.</summary>
    public sealed record Start(LifecycleId Id, ILifecycleRequest Request, int PageCount);

    /// <summary>Recreate a lifecycle still live on this device instance after a restart, as an actor made by <paramref name="Props"/>.</summary>
    public sealed record Adopt(Persistence.LifecycleRecord Record, Props Props);

    /// <summary>The frontend domain died: end everything it owns, in dependency order.</summary>
    public sealed record DomainDied(DomainId Domain);

    /// <summary>
    /// Published on the event stream, once, when the supervisor learns its domain died, before it ends the domain's
    /// lifecycles (a daemon tells the clients that own some).
    /// </summary>
    public sealed record FrontendDied(DomainId Domain);

    /// <summary>Acknowledges <see cref="DomainDied"/>; the cleanup runs on.</summary>
    public sealed record DomainCleanupStarted(DomainId Domain, int Lifecycles);

    /// <summary>
    /// The operator's word that the frontend domain was destroyed: its lifecycles end as for <see cref="DomainDied"/> (if
    /// they are not ending already), and its accounting is released — what is still live (quarantined exports a device
    /// holds, lifecycles still ending) is kept and tracked apart until it ends, no longer counted against the domain id,
    /// whose next requests (a new domain given the same id) start afresh with empty quotas.
    /// </summary>
    public sealed record ReleaseDomain(DomainId Domain);

    /// <summary>
    /// The answer to <see cref="ReleaseDomain"/>: whether the domain was already known dead, and what of it is still
    /// live, tracked apart until it ends.
    /// </summary>
    public sealed record DomainReleased(DomainId Domain, bool WasDead, int Lifecycles, long Pages);

    /// <summary>
    /// From the manager to a supervisor: release the domain's accounting; lifecycle ids from
    /// <paramref name="UntilSequence"/> on belong to the domain's next supervisor.
    /// </summary>
    internal sealed record ReleaseAccounting(long UntilSequence);

    /// <summary>From a released supervisor to the manager: its last lifecycle ended; it may be stopped.</summary>
    internal sealed class ReleasedEmpty
    {
        public static readonly ReleasedEmpty Instance = new();
    }

    /// <summary>Ask for the domain's lifecycles.</summary>
    public sealed record GetStatus;

    /// <summary>
    /// The answer to a <see cref="GetStatus"/> that reached a supervisor after it stopped (a released one, stopped by the
    /// manager once its last lifecycle ended, with the ask still in its mailbox): it has nothing to report.
    /// </summary>
    internal sealed record SupervisorGone;

    /// <summary>A domain's live lifecycles and quota use.</summary>
    public sealed record DomainStatus(DomainId Domain, bool Dead, int Buffers, long Pages, IReadOnlyList<LifecycleId> Lifecycles)
    {
        /// <summary>The domain's accounting was released (<see cref="ReleaseDomain"/>): these lifecycles end apart from the domain id's.</summary>
        public bool Released { get; init; }
    }

    /// <summary>Props of the supervisor of <paramref name="domain"/>, running lifecycles of <paramref name="kinds"/> (the default three when null).</summary>
    public static Props Props(DomainId domain, LifecycleServices services, Quotas quotas, LifecycleKinds? kinds = null) =>
        Props(domain, services, quotas, kinds, firstSequence: 0);

    /// <summary>
    /// As above, for a domain id whose earlier supervisor's accounting was released: lifecycle ids below
    /// <paramref name="firstSequence"/> are that supervisor's, and commands for them go back to the parent.
    /// </summary>
    internal static Props Props(DomainId domain, LifecycleServices services, Quotas quotas, LifecycleKinds? kinds, long firstSequence)
    {
        var resolved = kinds ?? LifecycleKinds.Default(ExportSettings.Default); // plain captures only: see ExportedBuffer.Props
        return Akka.Actor.Props.Create(() => new DomainSupervisorActor(domain, services, quotas, resolved, firstSequence));
    }
}
