using BufferActors.Actors;
using BufferActors.Actors.Lifecycles;
using BufferActors.Native;

namespace BufferActors.Tests.Lifecycles.Probe;

/// <summary>
/// Messages of a test-only fourth kind of lifecycle: a probe that reserves pages of a domain's quota, answers pings
/// and ends on request. It exists to prove that a kind is a module: nothing outside this folder names it but
/// the line that registers it with a host (<see cref="ProbeKind"/>).
/// </summary>
public static class Probe
{
    /// <summary>The probe's kind.</summary>
    public static readonly LifecycleKind Kind = LifecycleKind.Define("probe", 3);

    /// <summary>Start a probe holding <paramref name="PageCount"/> pages of <paramref name="Domain"/>'s quota.</summary>
    public sealed record Start(DomainId Domain, int PageCount) : ILifecycleRequest;

    /// <summary>The probe runs.</summary>
    public sealed record Started(LifecycleId Id);

    /// <summary>Are you there?</summary>
    public sealed record Ping(LifecycleId Id) : ILifecycleCommand;

    /// <summary>Yes, this many pings so far.</summary>
    public sealed record Pong(LifecycleId Id, int Pings);

    /// <summary>End the probe.</summary>
    public sealed record End(LifecycleId Id) : ILifecycleCommand;

    /// <summary>Ended.</summary>
    public sealed record Ended(LifecycleId Id);
}
