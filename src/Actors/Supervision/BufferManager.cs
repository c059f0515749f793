using BufferActors.Actors.Lifecycles;

namespace BufferActors.Actors.Supervision;

/// <summary>Messages and props of <see cref="BufferManagerActor"/>, the root of BufferActors.</summary>
public static class BufferManager
{
    /// <summary>Settings of a manager.</summary>
    /// <param name="Quotas">Per-domain quotas.</param>
    /// <param name="Export">Timing of export lifecycles.</param>
    public sealed record Settings(DomainLifecycles.Quotas Quotas, ExportSettings Export)
    {
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
    }

    /// <summary>Props of the root manager.</summary>
    public static Props Props(DeviceSession session, Settings? settings = null)
    {
        var resolved = settings ?? Settings.Default; // plain captures only: see ExportedBuffer.Props
        return Akka.Actor.Props.Create(() => new BufferManagerActor(session, resolved));
    }
}
