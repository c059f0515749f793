using Akka.Actor;
using BufferActors.Actors;
using BufferActors.Actors.Lifecycles;
using BufferActors.Actors.Persistence;

namespace BufferActors.Tests.Lifecycles.Probe;

/// <summary>The probe as the manager, the supervisors and recovery see it.</summary>
public sealed class ProbeKind : ILifecycleKind
{
    /// <summary>The most pages one probe may hold (a refusal of the kind's own).</summary>
    public const int MaxPages = 64;

    public LifecycleKind Kind => Probe.Kind;

    public Type RequestType => typeof(Probe.Start);

    public bool IsBuffer => false;

    public int ReusedActors => 0;

    public int CleanupPhase => 3; // after every kind of the gntdev

    public object? CleanupMessage(LifecycleId id) => new Probe.End(id);

    public OperationFailed? Refusal(ILifecycleRequest request) =>
        request.PageCount > MaxPages ? new OperationFailed(ErrorCode.InvalidArgument, $"a probe holds at most {MaxPages} pages") : null;

    public Props Props(LifecycleId id, LifecycleServices services) => Akka.Actor.Props.Create(() => new ProbeActor(id, services));

    public LifecycleRecovery Recover(LifecycleRecord record, LifecycleServices services) =>
        new LifecycleRecovery.Reclaim("a probe does not outlive its host", TellFrontend: false);
}
