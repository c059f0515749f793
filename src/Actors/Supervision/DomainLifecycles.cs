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

    /// <summary>Ask for the domain's lifecycles.</summary>
    public sealed record GetStatus;

    /// <summary>A domain's live lifecycles and quota use.</summary>
    public sealed record DomainStatus(DomainId Domain, bool Dead, int Buffers, long Pages, IReadOnlyList<LifecycleId> Lifecycles);

    /// <summary>Props of the supervisor of <paramref name="domain"/>, running lifecycles of <paramref name="kinds"/> (the default three when null).</summary>
    public static Props Props(DomainId domain, LifecycleServices services, Quotas quotas, LifecycleKinds? kinds = null)
    {
        var resolved = kinds ?? LifecycleKinds.Default(ExportSettings.Default); // plain captures only: see ExportedBuffer.Props
        return Akka.Actor.Props.Create(() => new DomainSupervisorActor(domain, services, quotas, resolved));
    }
}
